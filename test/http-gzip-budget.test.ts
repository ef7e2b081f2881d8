/**
 * Gzip bodies count against max_inflight_body_bytes, compressed bytes included. Regression:
 * stalled uploads of empty deflate blocks (decoding to nothing) kept up to 768 KiB of compressed
 * input each (for dead-lettering a broken stream) outside the budget: peak RSS 552 MiB with 600
 * such uploads while the budget gauge read 0.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { describe, it } from 'node:test';
import { waitFor } from './support/daemon.ts';
import { Fleet, MiB } from './support/reliability-harness.ts';
import { freePort } from './support/tcp-gate.ts';
import { tempDir } from './support/pipeline.ts';

const UPLOADS = 400;
const UPLOAD_BYTES = 800 * 1024;

/** A gzip member header, then empty non-final stored blocks: input that decodes to nothing, forever. */
function emptyDeflateBlocks(bytes: number): Buffer {
  const header = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
  const block = Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]);
  return Buffer.concat([header, Buffer.alloc(Math.floor(bytes / 5) * 5).fill(block)]);
}

/** Peak resident set of a process (VmHWM), bytes. */
function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error('no VmHWM');
  return Number(m[1]) * 1024;
}

describe('gzip bodies and the in-flight body budget', () => {
  const fleet = new Fleet();

  it(`${UPLOADS} stalled uploads of empty deflate blocks stay within max_inflight_body_bytes`, async () => {
    const dir = tempDir();
    const port = await freePort();
    const daemon = await fleet.daemon(
      dir,
      `
sources:
  kong: { type: http, listen: "127.0.0.1:${port}", path: /kong, auth: { none: true } }
workspaces: { "*": { to: [hook] } }
destinations:
  hook: { type: webhook, url: "http://127.0.0.1:9/h" }
state_dir: ${dir}/state
admin: { listen: "127.0.0.1:0" }
log: { level: info, format: json }
`,
    );
    const pid = daemon.proc.pid;
    assert.ok(pid !== undefined);
    const before = peakRss(pid);
    const body = emptyDeflateBlocks(UPLOAD_BYTES);
    const sockets: net.Socket[] = [];
    const statuses: number[] = [];
    fleet.onCleanup(() => {
      for (const s of sockets) s.destroy();
    });
    const head =
      'POST /kong HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n';
    let written = 0;
    await Promise.all(
      Array.from(
        { length: UPLOADS },
        () =>
          new Promise<void>((resolve) => {
            const socket = net.connect(port, '127.0.0.1');
            sockets.push(socket);
            socket.on('error', () => resolve());
            socket.once('data', (d: Buffer) =>
              statuses.push(Number(/^HTTP\/1\.1 (\d+)/.exec(d.toString('latin1'))?.[1])),
            );
            socket.on('close', () => resolve());
            socket.write(head);
            // The whole compressed body, but never the last chunk: the upload stalls.
            socket.write(`${body.length.toString(16)}\r\n`);
            socket.write(body, () => {
              written++;
              resolve();
            });
          }),
      ),
    );
    // Let the daemon read what the sockets hold.
    await new Promise((r) => setTimeout(r, 2000));
    const budgetGauge = Number(
      /kong_log_relay_http_inflight_body_bytes\{[^}]*\} (\d+)/.exec(await daemon.metrics())?.[1],
    );
    const peak = peakRss(pid);
    process.stdout.write(
      `# peak RSS before ${(before / MiB).toFixed(0)} MiB, after ${UPLOADS} stalled uploads ${(peak / MiB).toFixed(0)} MiB; budget gauge ${(budgetGauge / MiB).toFixed(1)} MiB; ${written} written, answers ${JSON.stringify(countBy(statuses))}\n`,
    );
    // The default budget is 64 MiB. Before the fix: gauge 0, RSS +161 MiB here (+464 MiB with 600 uploads in the probe); after: +104 MiB.
    assert.ok(budgetGauge > 0 && budgetGauge <= 64 * MiB, `budget gauge ${budgetGauge}`);
    assert.ok(peak - before < 140 * MiB, `peak RSS grew by ${((peak - before) / MiB).toFixed(0)} MiB`);
    assert.ok(statuses.includes(503), 'uploads over the budget are refused with 503');
    for (const s of sockets) s.destroy();
    // The daemon still takes a plain request.
    await waitFor(async () => {
      const r = await fetch(`http://127.0.0.1:${port}/kong`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"request":{"method":"GET","uri":"\\/x"},"response":{"status":200}}',
      });
      return r.status === 200;
    }, 20_000);
  });
});

function countBy(xs: readonly number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}
