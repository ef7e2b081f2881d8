/**
 * Webhook batch bodies are written text by text into one buffer (src/sinks/webhook/utf8-join.ts)
 * instead of joining a string and encoding it: the bytes must be exactly what the join gave,
 * for ASCII, non-ASCII, astral and lone-surrogate text, at every size around the growth points.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { utf8Join } from '../src/sinks/webhook/utf8-join.ts';

const joined = (texts: string[], open: string, sep: string, close: string): Buffer => Buffer.from(`${open}${texts.join(sep)}${close}`, 'utf8');

describe('webhook batch body encoding', () => {
  it('gives the same bytes as encoding the joined text, for any texts', () => {
    fc.assert(fc.property(
      fc.array(fc.string({ unit: fc.constantFrom('a', '{', '"', '\\/', 'é', '€', '😀', '\ud800', '\udc00', 'x'.repeat(40)), maxLength: 400 }), { maxLength: 60 }),
      fc.constantFrom(['[', ',', ']'], ['', '\n', '\n']),
      (texts, [open, sep, close]) => {
        assert.deepEqual(utf8Join(texts, open, sep, close), joined(texts, open, sep, close));
      },
    ), { numRuns: 500 });
  });

  it('grows past its slack when a large batch is mostly non-ASCII', () => {
    const texts = Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? '€'.repeat(2000) : `{"i":${i},"p":"${'a'.repeat(1000)}"}`));
    assert.deepEqual(utf8Join(texts, '[', ',', ']'), joined(texts, '[', ',', ']'));
    assert.deepEqual(utf8Join([], '[', ',', ']'), Buffer.from('[]'));
    assert.deepEqual(utf8Join([], '', '\n', '\n'), Buffer.from('\n'));
  });
});
