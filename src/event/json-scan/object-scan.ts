/**
 * scanObject: one JSON object (a Kong entry) validated and its wanted fields located, by the
 * wasm kernel when it can, else (or to find the exact error) by the JS scanner.
 */

import { E_NOT_OBJECT, E_TRAILING, makeError, tooLarge, type JsonSyntaxError } from './errors.ts';
import { KERNEL_LAYOUT } from './kernel/layout.ts';
import { finishSpans, type FieldPlan } from './plan.ts';
import { emptyRegion, notAContainer, regionEnd, regionStart } from './region.ts';
import type { ScanParts } from './scan-parts.ts';

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
  parts: ScanParts,
  text: string,
  plan: FieldPlan,
  spans: Int32Array,
  start?: number,
  end?: number,
): JsonSyntaxError | null {
  const n2 = plan.size << 1;
  if (spans.length < n2) throw new RangeError(`scanObject: spans has ${spans.length} entries, the plan needs ${n2}`);
  spans.fill(-1, 0, n2);
  const s = regionStart(text, start, end);
  const e = regionEnd(text, s, end);
  if (s >= e) return emptyRegion(text, s, e);
  const n = e - s;
  const { memory, js, stats } = parts;
  const kernel = plan._image === null ? null : parts.kernel;
  if (!memory.prepare(kernel === null ? null : plan, n)) return tooLarge(s);
  memory.loadText(text, s, e, plan.bytes);
  if (memory.text[0] !== 123) return notAContainer(parts, text, s, n, E_NOT_OBJECT);
  let kernelSaid = 0; // 0 not run, else SCAN_INVALID or SCAN_BAIL_OUT
  if (kernel !== null) {
    const out = memory.kernelSpans;
    out.fill(-1);
    stats.kernelScans++;
    const r = kernel.scan(n, s, memory.planAt, memory.spansAt, memory.textAt, 0, 0);
    if (r === n) {
      spans.set(out);
      return finishSpans(plan, spans);
    }
    if (r >= 0) return makeError(text, s, e, { code: E_TRAILING, pos: r });
    // SCAN_INVALID: the JS scanner below finds the exact error; SCAN_BAIL_OUT: an escaped key in
    // an object the plan looks into (the JS scanner unescapes it), or deeper than the kernel's stacks.
    kernelSaid = r;
    if (r === KERNEL_LAYOUT.SCAN_BAIL_OUT) stats.kernelBailouts++;
    spans.fill(-1, 0, n2);
  }
  memory.computeMask(n, parts.kernel);
  stats.jsScans++;
  const r = js.scanValue(text, s, 0, n, 0, plan, spans, 0, memory.text, memory.mask);
  if (kernelSaid === KERNEL_LAYOUT.SCAN_INVALID && r === n) stats.kernelMismatches++; // a kernel bug: the JS result is used
  if (r < 0) return makeError(text, s, e, js.failure);
  if (r < n) return makeError(text, s, e, { code: E_TRAILING, pos: r });
  return finishSpans(plan, spans);
}
