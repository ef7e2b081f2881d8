/**
 * scanObject: one JSON object (a Kong entry) validated and its wanted fields located, by the
 * wasm kernel when it can, else (or to find the exact error) by the JS scanner.
 */

import { stats, useWasm } from './backend.ts';
import { E_NOT_OBJECT, E_TRAILING, fail, makeError, tooLarge, type JsonSyntaxError } from './errors.ts';
import { scanValue } from './js-scanner.ts';
import { finishSpans, type FieldPlan } from './plan.ts';
import { emptyRegion, gRegionEnd, gRegionStart, notAContainer, region } from './region.ts';
import { computeMask, gSpans, gU8, load, loadedPlan, planOff, spansOff, textOff, usePlan } from './scan-memory.ts';
import { wasm } from './wasm-instance.ts';

/**
 * Validate that text[start..end) is exactly one JSON value that is an OBJECT, optionally
 * surrounded by JSON whitespace (and nothing else up to `end`, default text.length), and fill
 * spans: spans[2*i] = start offset of the raw value at plan path i, spans[2*i+1] = end offset
 * (exclusive), both -1 when the path is absent. Offsets are into `text` (not relative to start).
 *
 * Returns null on success or a JsonSyntaxError (never throws because of the text; nesting deeper
 * than {@link MAX_DEPTH} levels is an error although JSON.parse would accept it). On error the content
 * of spans is unspecified. Throws a RangeError only if spans is shorter than 2*plan.size.
 */
export function scanObject(
  text: string,
  plan: FieldPlan,
  spans: Int32Array,
  start?: number,
  end?: number,
): JsonSyntaxError | null {
  const n2 = plan.size << 1;
  if (spans.length < n2) throw new RangeError(`scanObject: spans has ${spans.length} entries, the plan needs ${n2}`);
  spans.fill(-1, 0, n2);
  region(text, start, end);
  const s = gRegionStart;
  const e = gRegionEnd;
  if (s >= e) return emptyRegion(text);
  const n = e - s;
  const image = plan._image;
  let kernel = 0; // what the wasm kernel said: 0 not run, -1 invalid, -2 bailed out
  if (useWasm && wasm !== null && image !== null) {
    if (!usePlan(plan, image) || !load(text, s, e, plan.bytes)) return tooLarge(s);
    if (loadedPlan !== plan && !usePlan(plan, image)) return tooLarge(s); // text area grew: new spans view
    if (gU8[0] !== 123) return notAContainer(text, s, n, E_NOT_OBJECT);
    const out = gSpans;
    out.fill(-1);
    stats.kernelScans++;
    const r = wasm.scan(n, s, planOff, spansOff, textOff, 0, 0);
    if (r === n) {
      spans.set(out);
      return finishSpans(plan, spans);
    }
    if (r >= 0) {
      fail(E_TRAILING, r);
      return makeError(text, s, e);
    }
    // -1: invalid JSON (the JS scanner below finds the exact error), -2: an escaped key in an
    // object the plan looks into (the JS scanner unescapes it), or deeper than the kernel's stacks.
    kernel = r;
    if (r === -2) stats.kernelBailouts++;
    spans.fill(-1, 0, n2);
  } else {
    if (!load(text, s, e, plan.bytes)) return tooLarge(s);
    if (gU8[0] !== 123) return notAContainer(text, s, n, E_NOT_OBJECT);
  }
  computeMask(n);
  stats.jsScans++;
  const r = scanValue(text, s, 0, n, 0, plan, spans, 0);
  if (kernel === -1 && r === n) stats.kernelMismatches++; // a kernel bug: the JS result is used
  if (r < 0) return makeError(text, s, e);
  if (r < n) {
    fail(E_TRAILING, r);
    return makeError(text, s, e);
  }
  return finishSpans(plan, spans);
}
