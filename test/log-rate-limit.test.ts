/**
 * A problem that repeats (a flood of bad lines, a destination failing every attempt) is logged
 * at a limited rate: the first few per window, then one line that says how many were left out.
 * Runs on a virtual clock: the windows are exact, whatever the machine's speed.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { it } from 'node:test';
import { createLogger, RateLimitedLog } from '../src/telemetry/log.ts';
import { VirtualClock } from './support/virtual-clock.ts';

interface Line {
  readonly level: number;
  readonly msg: string;
  readonly suppressed?: number;
  readonly file?: string;
}

function capturedLog(): { lines: Line[]; log: RateLimitedLog } {
  const lines: Line[] = [];
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString('utf8').split('\n')) if (text !== '') lines.push(JSON.parse(text) as Line);
      done();
    },
  });
  return { lines, log: new RateLimitedLog(createLogger({ level: 'info', format: 'json' }, out), 10_000, 5) };
}

it('logs the first 5 of a kind per 10 s window, then says how many more there were', async (t) => {
  const clock = new VirtualClock(t);
  const { lines, log } = capturedLog();
  for (let i = 0; i < 40; i++) log.warn('invalid', { file: 'a.log' }, 'line is not JSON');
  clock.advance(9_999);
  log.warn('invalid', { file: 'a.log' }, 'line is not JSON');
  await clock.settle(5);
  assert.equal(lines.length, 5, 'only the first 5 inside the window');
  clock.advance(1);
  log.warn('invalid', { file: 'a.log' }, 'line is not JSON');
  await clock.settle(5);
  assert.equal(lines.length, 7, 'the summary of the last window, then the first of the new one');
  assert.equal(lines[5].suppressed, 36);
  assert.match(lines[5].msg, /^line is not JSON \(36 more like this were not logged in the last 10s\)$/);
  assert.equal(lines[6].msg, 'line is not JSON');
  assert.ok(lines.every((l) => l.level === 40 && l.file === 'a.log'));
});

it('each kind has its own window', async (t) => {
  const clock = new VirtualClock(t);
  const { lines, log } = capturedLog();
  for (let i = 0; i < 10; i++) {
    log.warn('invalid', {}, 'line is not JSON');
    log.error('dead-letter-write', {}, 'cannot write the dead-letter file');
  }
  await clock.settle(5);
  assert.equal(lines.filter((l) => l.level === 40).length, 5);
  assert.equal(lines.filter((l) => l.level === 50).length, 5);
});
