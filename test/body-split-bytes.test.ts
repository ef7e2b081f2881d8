/**
 * HTTP bodies are split on their bytes and each entry decoded on its own (splitEntryBytes), a
 * fast path for bodies with non-ASCII text: what comes out must be exactly what splitting the
 * decoded body gives, for valid and broken arrays, NDJSON, BOMs and invalid UTF-8.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { splitEntries, splitEntryBytes, type BodyFormat } from '../src/event/entries.ts';

const UTF8 = new TextDecoder('utf-8');

function same(bytes: Uint8Array, format: BodyFormat): void {
  assert.deepEqual(splitEntryBytes(bytes, format), splitEntries(UTF8.decode(bytes), format));
}

const text = fc.string({
  unit: fc.constantFrom('a', 'Z', ' ', 'é', '€', '😀', '\\"', '\\\\', '\\/', '[', ']', ',', '{', '}', ':'),
  maxLength: 20,
});
const entry = fc.oneof(
  fc.tuple(text, text).map(([k, v]) => `{"${k}":"${v}","n":[1,{"x":"${v}"}]}`),
  fc.integer().map(String),
  fc.constantFrom('{}', '[]', 'null', '"s"', '{"a":', '{"a":1}}', ']', '\u00e9'),
);

describe('splitting a body on its bytes', () => {
  it('gives the entries of the decoded body: JSON arrays, single values, NDJSON', () => {
    fc.assert(
      fc.property(
        fc.array(entry, { maxLength: 12 }),
        fc.constantFrom(',', ' , ', ',\n'),
        fc.constantFrom('', ' ', '\ufeff', '\ufeff \n'),
        (entries, sep, lead) => {
          same(Buffer.from(`${lead}[${entries.join(sep)}]`), 'json');
          same(Buffer.from(`${lead}[${entries.join(sep)}`), 'json');
          same(Buffer.from(`${lead}${entries[0] ?? ''}`), 'json');
          same(Buffer.from(`${lead}${entries.join('\n')}\r\n\n  \n`), 'ndjson');
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('replaces invalid UTF-8 as TextDecoder does, inside and outside strings', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.constantFrom(
              ...Array.from(Buffer.from('{"a":"x"},[]" \n')),
              0x80,
              0xc3,
              0xe2,
              0x82,
              0xac,
              0xf0,
              0x9f,
              0xff,
              0xef,
              0xbb,
              0xbf,
            ),
          ),
          { maxLength: 40 },
        ),
        (bytes) => {
          const body = Uint8Array.from([0x5b, ...bytes, 0x5d]);
          same(body, 'json');
          same(Uint8Array.from(bytes), 'ndjson');
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('keeps a subarray view to its own bytes', () => {
    const whole = Buffer.from('xx[{"a":"é"},{"b":2}]yy');
    same(whole.subarray(2, whole.length - 2), 'json');
  });
});
