/** The one-line summary `run` prints on a TTY: rates, buffered, dead-lettered, dropped. */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { it } from 'node:test';
import { RelayMetrics } from '../src/telemetry/metrics.ts';
import { LiveSummary } from '../src/telemetry/summary.ts';
import { VirtualClock } from './support/virtual-clock.ts';

it('summarizes intake and delivery rates, what is buffered and what was dead-lettered or dropped', () => {
  const metrics = new RelayMetrics('t', 'node');
  const summary = new LiveSummary(metrics, new PassThrough(), 60_000);
  metrics.source('tail').received = 500;
  metrics.source('http').received = 100;
  metrics.destination('a').delivered = 300;
  metrics.destination('a').deadLettered.rejected = 4;
  metrics.destination('b').dropped.buffer_full_drop_newest = 2;
  metrics.gauges.set('a', () => ({ bufferedEvents: 7, bufferedBytes: 1, inFlight: 1, blocking: false }));
  const line = summary.line(metrics);
  summary.stop();
  assert.match(line, /^in \d+\/s {2}out \d+\/s {2}buffered 7 {2}dead-lettered 4 {2}dropped 2$/);
});

it('rates are per second over the time since the last line, printed every interval', (t) => {
  const clock = new VirtualClock(t);
  const metrics = new RelayMetrics('t', 'node');
  const out = new PassThrough({ encoding: 'utf8' });
  const summary = new LiveSummary(metrics, out, 5_000);
  metrics.source('tail').received = 600;
  metrics.destination('a').delivered = 250;
  clock.advance(4_999);
  assert.equal(out.read(), null, 'nothing before the interval');
  clock.advance(1);
  assert.equal(out.read(), 'in 120/s  out 50/s  buffered 0  dead-lettered 0  dropped 0\n');
  metrics.source('tail').received = 700;
  clock.advance(5_000);
  assert.equal(out.read(), 'in 20/s  out 0/s  buffered 0  dead-lettered 0  dropped 0\n');
  summary.stop();
  clock.advance(60_000);
  assert.equal(out.read(), null, 'stopped');
});
