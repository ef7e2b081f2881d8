/**
 * The relay keeps V8's old generation near what is live (src/delivery/heap-growth.ts): about
 * 40 MB of growth between full collections, at least half and at most three times what survived,
 * so that buffered entries, not garbage, decide how much memory the process holds.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HEADROOM_BYTES, MAX_PERCENT, MIN_PERCENT, boundHeapGrowth, nextGrowingPercent } from '../src/delivery/heap-growth.ts';

const MB = 2 ** 20;

describe('heap growth between full collections', () => {
  it('gives a small heap room to double or triple, a heap full of buffered entries room to grow by half', () => {
    // ~20 MB live after collections (the HTTP pipeline): the percentage settles around 100%.
    let percent = MAX_PERCENT;
    for (let i = 0; i < 30; i++) percent = nextGrowingPercent(22 * MB, percent);
    assert.ok(percent >= 85 && percent <= 110, String(percent));
    // ~60 MB live (a full 32 MiB buffer): about half.
    for (let i = 0; i < 20; i++) percent = nextGrowingPercent(60 * MB, percent);
    assert.ok(percent >= MIN_PERCENT && percent <= 60, String(percent));
    assert.equal(nextGrowingPercent(500 * MB, MIN_PERCENT), MIN_PERCENT);
    assert.equal(nextGrowingPercent(0, MIN_PERCENT), MAX_PERCENT);
  });

  it('does not let a heap that fills up quickly grow by more than about the headroom', () => {
    // Set after a collection that left 14 MB, in force at the next one, which finds 45 MB live
    // (buffers filling): the limit it sets stays within ~HEADROOM_BYTES of those 45 MB.
    const next = nextGrowingPercent(14 * MB, MAX_PERCENT);
    assert.ok(45 * MB * (next / 100) <= 1.1 * HEADROOM_BYTES, String(next));
  });

  it('can be started more than once (every relay of a process starts it)', () => {
    assert.equal(boundHeapGrowth({}), 'bounded');
    assert.equal(boundHeapGrowth({}), 'bounded');
  });

  it('is left to V8 when the operator sets KLR_HEAP_GROWTH=v8', () => {
    assert.equal(boundHeapGrowth({ KLR_HEAP_GROWTH: 'v8' }), 'v8');
  });
});
