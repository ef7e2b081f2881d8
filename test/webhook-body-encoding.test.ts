/**
 * Webhook batch bodies are written entry by entry into one buffer (src/sinks/webhook/body-join.ts)
 * from the entries' byte strings instead of joining a string and encoding it: the bytes must be
 * exactly what encoding the joined text gives, for ASCII, non-ASCII, astral and lone-surrogate
 * text, also when each body is written into the buffer of an earlier, delivered one (BodyBuffers).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { byteStringOf } from '../src/event/byte-string.ts';
import { BodyBuffers, joinBody } from '../src/sinks/webhook/body-join.ts';

const utf8Join = (texts: string[], open: string, sep: string, close: string, buffers?: BodyBuffers): Buffer =>
  joinBody(texts.map(byteStringOf), open, sep, close, buffers);

const joined = (texts: string[], open: string, sep: string, close: string): Buffer =>
  Buffer.from(`${open}${texts.join(sep)}${close}`, 'utf8');

describe('webhook batch body encoding', () => {
  it('gives the same bytes as encoding the joined text, for any texts', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.string({
            unit: fc.constantFrom('a', '{', '"', '\\/', 'é', '€', '😀', '\ud800', '\udc00', 'x'.repeat(40)),
            maxLength: 400,
          }),
          { maxLength: 60 },
        ),
        fc.constantFrom(['[', ',', ']'], ['', '\n', '\n']),
        (texts, [open, sep, close]) => {
          assert.deepEqual(utf8Join(texts, open, sep, close), joined(texts, open, sep, close));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('joins a large batch that is mostly non-ASCII, and empty batches', () => {
    const texts = Array.from({ length: 300 }, (_, i) =>
      i % 3 === 0 ? '€'.repeat(2000) : `{"i":${i},"p":"${'a'.repeat(1000)}"}`,
    );
    assert.deepEqual(utf8Join(texts, '[', ',', ']'), joined(texts, '[', ',', ']'));
    assert.deepEqual(utf8Join([], '[', ',', ']'), Buffer.from('[]'));
    assert.deepEqual(utf8Join([], '', '\n', '\n'), Buffer.from('\n'));
  });

  it('a body written into a reused buffer is exactly the join, whatever the earlier body held', () => {
    const buffers = new BodyBuffers();
    fc.assert(
      fc.property(
        fc.array(
          fc.array(
            fc.string({ unit: fc.constantFrom('a', '"', 'é', '😀', '\ud800', 'x'.repeat(300)), maxLength: 200 }),
            { maxLength: 40 },
          ),
          { minLength: 1, maxLength: 6 },
        ),
        (batches) => {
          for (const texts of batches) {
            const body = utf8Join(texts, '', '\n', '\n', buffers);
            assert.deepEqual(body, joined(texts, '', '\n', '\n'));
            buffers.give(body);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("a delivered body's memory carries the next batch; the pool keeps only a couple of free buffers", () => {
    const buffers = new BodyBuffers(2);
    const first = utf8Join(['{"a":1}'], '[', ',', ']', buffers);
    buffers.give(first);
    const second = utf8Join(['{"b":2}', '{"c":3}'], '[', ',', ']', buffers);
    assert.equal(second.buffer, first.buffer);
    assert.equal(second.toString(), '[{"b":2},{"c":3}]');
    const held = [second, utf8Join(['x'], '', '\n', '\n', buffers), utf8Join(['y'], '', '\n', '\n', buffers)];
    for (const body of held) buffers.give(body);
    assert.equal(buffers.size, 2);
  });
});
