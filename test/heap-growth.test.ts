/**
 * `run` keeps V8's old generation near what is live (src/commands/heap-growth.ts): about
 * 40 MB of growth between full collections, at least half and at most three times what survived,
 * so that buffered entries, not garbage, decide how much memory the process holds. Its young
 * generation stops growing at 32 MB, whatever V8 would give it on this machine (Node 24: 128 MB).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  HEADROOM_BYTES,
  MAX_PERCENT,
  MIN_PERCENT,
  YOUNG_GENERATION_BYTES,
  HeapGrowthBound,
  missingFlags,
  nextGrowingPercent,
  nextSemiSpaceGrowth,
} from '../src/commands/heap-growth.ts';

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

  it('is left to V8 when the config says heap_growth: v8', () => {
    assert.deepEqual(new HeapGrowthBound().start('v8'), { mode: 'v8' });
  });

  it('is left to V8, saying why, when this V8 does not know a flag it would set (setting one would not throw)', () => {
    // The listing of a V8 without --heap-growing-percent: nothing is set (this test process keeps V8's flags).
    const listing = '  --semi-space-growth-factor (factor by which to grow the new space)\n';
    const state = new HeapGrowthBound().start('bounded', () => listing);
    assert.equal(state.mode, 'v8');
    assert.match(state.reason ?? '', /--heap-growing-percent/);
    assert.deepEqual(missingFlags(''), ['--heap-growing-percent', '--semi-space-growth-factor']);
  });

  it("finds both flags in this runtime's V8", () => {
    const run = spawnSync(process.execPath, ['--v8-options'], { encoding: 'utf8' });
    assert.deepEqual(missingFlags(run.stdout), []);
  });
});

describe('young generation', () => {
  it('grows as V8 would until 32 MB, then stops', () => {
    assert.equal(nextSemiSpaceGrowth(2 * MB), 2);
    assert.equal(nextSemiSpaceGrowth(YOUNG_GENERATION_BYTES / 2), 2);
    assert.equal(nextSemiSpaceGrowth(YOUNG_GENERATION_BYTES), 1);
    assert.equal(nextSemiSpaceGrowth(128 * MB), 1);
  });

  it('stays at 32 MB in a process that keeps many short-lived entries alive for a while', () => {
    // A fresh process (this one's heap has a history) that buffers entries for a few scavenges
    // and yields to the event loop between chunks, as the relay does: V8 alone grows the new
    // space to its maximum (128 MB on Node 24 with 24 GiB). While a full collection is under way
    // the new space may briefly exceed the cap: the median is what is held.
    const module = path.resolve(import.meta.dirname, '../src/commands/heap-growth.js');
    const script = `
      const { HeapGrowthBound } = await import(${JSON.stringify(module)});
      const { getHeapSpaceStatistics } = await import('node:v8');
      const bound = new HeapGrowthBound();
      const { mode } = bound.start('bounded');
      if (bound.start('bounded').mode !== mode) throw new Error('a second start changed the mode');
      const sizes = [];
      const buffered = [];
      for (let round = 0; round < 60; round++) {
        for (let i = 0; i < 20000; i++) {
          if (i % 1000 === 0) await new Promise((resolve) => setImmediate(resolve));
          buffered.push('{"request":{"uri":"/p/' + round + '/' + i + '"}}'.padEnd(300, ' '));
        }
        if (buffered.length > 100000) buffered.splice(0, 50000);
        for (const s of getHeapSpaceStatistics()) if (s.space_name === 'new_space') sizes.push(s.space_size);
      }
      process.stdout.write(JSON.stringify({ mode, sizes }));
    `;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const { mode, sizes } = JSON.parse(run.stdout) as { mode: string; sizes: number[] };
    assert.equal(mode, 'bounded');
    const median = [...sizes].sort((a, b) => a - b)[sizes.length >> 1];
    assert.ok(
      median <= YOUNG_GENERATION_BYTES,
      `new space: median ${median / MB} MB, sizes ${sizes.map((b) => Math.round(b / MB)).join(' ')}`,
    );
  });
});
