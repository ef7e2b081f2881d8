/**
 * The file source reads synchronously while reads are fast and through the thread pool for a
 * while after a slow one (src/sources/file/positional-read.ts): a slow disk or network file
 * system must not block the event loop read after read.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ASYNC_AFTER_SLOW_MS, ReadModePolicy, SLOW_READ_MS } from '../src/sources/file/positional-read.ts';

describe('file read mode', () => {
  it('reads synchronously while reads are fast', () => {
    const policy = new ReadModePolicy();
    for (let t = 0; t < 100; t += 10) {
      assert.equal(policy.syncAt(t), true);
      policy.observe(t, SLOW_READ_MS / 2);
    }
  });

  it('after a slow read, reads through the thread pool for a while, then tries again', () => {
    const policy = new ReadModePolicy();
    policy.observe(1_000, 50);
    assert.equal(policy.syncAt(1_050), false, 'right after the slow read');
    assert.equal(policy.syncAt(1_050 + ASYNC_AFTER_SLOW_MS - 1), false, 'still within the period');
    assert.equal(policy.syncAt(1_050 + ASYNC_AFTER_SLOW_MS), true, 'the period is over');
    // A read that blocked for longer keeps it off longer: the loop blocks at most once a period.
    policy.observe(5_000, 3_000);
    assert.equal(policy.syncAt(5_000 + 3_000 + ASYNC_AFTER_SLOW_MS - 1), false);
  });
});
