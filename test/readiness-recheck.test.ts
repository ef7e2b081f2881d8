/**
 * /readyz says what is wrong now, not what was wrong at start: the state-directory and credential
 * checks run again every interval, report a problem that appears and its end, never run twice at
 * once, and stop when told. Runs on a virtual clock.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { PeriodicCheck } from '../src/util/periodic-check.ts';
import { VirtualClock } from './support/virtual-clock.ts';

it('a problem that appears is reported at the next check, and so is its end', async (t) => {
  const clock = new VirtualClock(t);
  let problems: string[] = [];
  let runs = 0;
  const check = new PeriodicCheck(async () => {
    runs++;
    return problems;
  }, 10_000);
  const changes: string[][] = [];
  assert.deepEqual(await check.run(), []);
  check.start((now) => changes.push([...now]));

  problems = ['state_dir /var/lib/kong-log-relay: not writable'];
  clock.advance(9_999);
  await clock.settle(5);
  assert.deepEqual(check.problems, [], 'not checked again before the interval');
  clock.advance(1);
  await clock.until(() => changes.length === 1, 'the problem reported');
  assert.deepEqual(check.problems, problems);

  clock.advance(10_000);
  await clock.until(() => runs === 3, 'the third check');
  assert.equal(changes.length, 1, 'an unchanged problem is not reported again');

  problems = [];
  clock.advance(10_000);
  await clock.until(() => changes.length === 2, 'the end of the problem reported');
  assert.deepEqual(changes[1], []);

  check.stop();
  clock.advance(60_000);
  await clock.settle(5);
  assert.equal(runs, 4, 'no check after stop()');
});

it('a check that is slow is not started again while it runs; a failing one is a problem', async (t) => {
  const clock = new VirtualClock(t);
  let runs = 0;
  let finish: (problems: string[]) => void = () => undefined;
  const check = new PeriodicCheck(() => {
    runs++;
    return new Promise<string[]>((resolve) => {
      finish = resolve;
    });
  }, 1_000);
  check.start(() => undefined);
  clock.advance(5_000);
  await clock.settle(5);
  assert.equal(runs, 1, 'the ticks while it runs join it');
  finish([]);
  await clock.settle(5);

  const failing = new PeriodicCheck(() => Promise.reject(new Error('EACCES')), 1_000);
  assert.deepEqual(await failing.run(), ['check failed: EACCES']);
  check.stop();
});
