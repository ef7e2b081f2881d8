import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { byteStringOf } from '../src/event/byte-string.ts';
import { FieldPlan, JsonScanner, JsonSyntaxError, type JsonPath } from '../src/event/json-scan.ts';

/** The spans a fresh scanner finds, or the error message. */
function alone(text: string, plan: FieldPlan): number[] | string {
  const spans = plan.newSpans();
  const error = new JsonScanner().scanObject(text, plan, spans);
  return error === null ? Array.from(spans) : error.message;
}

function scanWith(scanner: JsonScanner, text: string, plan: FieldPlan): number[] | string {
  const spans = plan.newSpans();
  const error = scanner.scanObject(text, plan, spans);
  return error === null ? Array.from(spans) : error.message;
}

const METHOD_PATHS: JsonPath[] = [
  ['request', 'method'],
  ['request', 'uri'],
  ['workspaces', 0, 'name'],
];
const STATUS_PATHS: JsonPath[] = [
  ['response', 'status'],
  ['latencies', 'request'],
  ['request', 'method'],
];

function entry(i: number, padding = 0): string {
  return JSON.stringify({
    request: { method: i % 2 === 0 ? 'GET' : 'PUT', uri: `/things/${i}`, headers: { 'x-pad': 'p'.repeat(padding) } },
    response: { status: 200 + i },
    latencies: { request: i * 3 },
    workspaces: [{ name: `ws-${i}` }],
  });
}

describe('JsonScanner', () => {
  it('gives each scan the same result whatever was scanned before, by the same or another scanner', () => {
    const plans = [
      new FieldPlan(METHOD_PATHS),
      new FieldPlan(STATUS_PATHS),
      new FieldPlan(METHOD_PATHS, { bytes: true }),
      new FieldPlan([]),
    ];
    // small and large texts (the large ones grow the scan memory, which moves the plan image),
    // valid and broken ones, interleaved over two scanners and both backends
    const texts: string[] = [];
    for (let i = 0; i < 12; i++) {
      const text = entry(i, i % 4 === 3 ? 300_000 * (i + 1) : 10);
      texts.push(i % 5 === 4 ? text.slice(0, -3) : text);
    }
    const expected = texts.map((t) => plans.map((p) => alone(p.bytes ? byteStringOf(t) : t, p)));
    const scanners = [new JsonScanner(), new JsonScanner({ backend: 'js' }), new JsonScanner()];
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < texts.length; i++) {
        for (let j = 0; j < plans.length; j++) {
          const k = (i + j + round) % plans.length;
          const scanner = scanners[(i * 7 + j + round) % scanners.length];
          const text = plans[k].bytes ? byteStringOf(texts[i]) : texts[i];
          assert.deepEqual(scanWith(scanner, text, plans[k]), expected[i][k], `text ${i}, plan ${k}, round ${round}`);
        }
      }
    }
    assert.equal(expected[4][0], `Unexpected end of JSON input at position ${texts[4].length}`);
  });

  it('keeps its backend and counters to itself', () => {
    const wasm = new JsonScanner();
    const js = new JsonScanner({ backend: 'js' });
    assert.equal(wasm.usesWasm, true);
    assert.equal(js.usesWasm, false);
    const plan = new FieldPlan(METHOD_PATHS);
    assert.deepEqual(scanWith(wasm, entry(1), plan), scanWith(js, entry(1), plan));
    assert.deepEqual(wasm.stats(), { kernelScans: 1, kernelBailouts: 0, jsScans: 0, kernelMismatches: 0 });
    assert.deepEqual(js.stats(), { kernelScans: 0, kernelBailouts: 0, jsScans: 1, kernelMismatches: 0 });
    assert.equal(wasm.setBackend('js'), 'auto');
    assert.equal(wasm.usesWasm, false);
    assert.equal(js.usesWasm, false);
  });

  it('splits an array of bytes and of text with the same walk', () => {
    const scanner = new JsonScanner();
    const items = [entry(1), '2', '"x"', entry(2), '[]'];
    const text = ` [ ${items.join(' ,\n')} ] `;
    const fromText = scanner.scanArrayElements(text);
    assert.ok(!(fromText instanceof JsonSyntaxError));
    const fromBytes = scanner.scanArrayElementsUtf8(new TextEncoder().encode(text));
    assert.ok(fromBytes !== null);
    assert.deepEqual(Array.from(fromBytes), Array.from(fromText));
    const slices = [];
    for (let k = 0; k < fromText.length; k += 2) slices.push(text.slice(fromText[k], fromText[k + 1]));
    assert.deepEqual(slices, items);
    const plan = new FieldPlan(METHOD_PATHS, { bytes: true });
    const scanned = scanner.scanArrayOfObjectsUtf8(new TextEncoder().encode(text), plan, 10);
    assert.ok(scanned !== null && !('tooMany' in scanned));
    assert.equal(scanned.count, 5);
    assert.deepEqual(Array.from(scanned.kinds.subarray(0, 5)), [0, 1, 1, 0, 1]);
    assert.deepEqual(Array.from(scanned.bounds.subarray(0, 10)), Array.from(fromText));
    assert.equal(scanner.scanArrayElementsUtf8(new TextEncoder().encode('[1,]')), null);
    const broken = scanner.scanArrayElements('[1,]');
    assert.ok(broken instanceof JsonSyntaxError);
    assert.equal(broken.position, 3);
  });
});

describe('the WebAssembly kernel', () => {
  it('is committed as built from scan-kernel.wat and layout.ts (npm run check:kernel)', () => {
    const script = fileURLToPath(new URL('../../tools/build-kernel.mjs', import.meta.url));
    const run = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
  });
});
