/** Where the http source listens: IPv4, IPv6, every interface, a unix socket. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { networkInterfaces } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { kongTexts, startHarness, TOKEN, waitFor } from './support/http-harness.ts';
import { tempDir } from './support/pipeline.ts';

const hasIpv6Loopback = Object.values(networkInterfaces())
  .flat()
  .some((i) => i?.address === '::1');

describe('http source: TCP addresses', () => {
  it('"[::1]:0" listens on IPv6 loopback and reports the bound port', {
    skip: !hasIpv6Loopback && 'no IPv6 loopback here',
  }, async () => {
    const h = await startHarness({ source: { listen: '[::1]:0' } });
    try {
      assert.match(h.source.address(), /^\[::1\]:\d+$/);
      const [entry] = kongTexts(1, 71);
      assert.equal((await h.post(entry)).status, 200);
    } finally {
      await h.close();
    }
  });

  it('":0" listens on every interface, reachable on 127.0.0.1', async () => {
    const h = await startHarness({ source: { listen: ':0' } });
    try {
      assert.ok(h.port > 0);
      const [entry] = kongTexts(1, 72);
      const answer = await fetch(`http://127.0.0.1:${h.port}/kong`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: entry,
      });
      assert.equal(answer.status, 200);
      assert.equal(((await answer.json()) as { accepted: number }).accepted, 1);
    } finally {
      await h.close();
    }
  });
});

describe('http source: unix socket', () => {
  it('listens on unix:/path with mode 0660, replacing a stale socket file, and removes it on close', async () => {
    const dir = tempDir('klr-http-unix-');
    const socketPath = path.join(dir, 'http.sock');
    // A socket file left behind by a crashed relay: its process was killed, nothing listens on it.
    const crashed = spawnSync(process.execPath, [
      '-e',
      `require('node:net').createServer().listen(${JSON.stringify(socketPath)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    assert.equal(crashed.signal, 'SIGKILL');
    assert.ok(statSync(socketPath).isSocket());
    const h = await startHarness({ source: { listen: `unix:${socketPath}` } });
    try {
      assert.equal(h.source.address(), `unix:${socketPath}`);
      assert.equal(statSync(socketPath).mode & 0o777, 0o660);
      const entries = kongTexts(2, 67);
      const answer = await h.post(`[${entries.join(',')}]`);
      assert.equal(answer.status, 200);
      await waitFor(() => h.sink.texts.length === 2, 'both entries at the sink');
      assert.deepEqual(h.sink.texts, entries);
    } finally {
      await h.close();
    }
    assert.equal(existsSync(socketPath), false);
  });

  it('refuses to replace a regular file or a live socket', async () => {
    const dir = tempDir('klr-http-unix-');
    const file = path.join(dir, 'not-a-socket');
    writeFileSync(file, 'keep me');
    await assert.rejects(startHarness({ source: { listen: `unix:${file}` } }), /not a socket/);
    const live = path.join(dir, 'live.sock');
    const other = createServer();
    await new Promise<void>((resolve) => other.listen(live, resolve));
    try {
      await assert.rejects(startHarness({ source: { listen: `unix:${live}` } }), /another process is listening/);
    } finally {
      await new Promise<void>((resolve) => {
        other.close(() => resolve());
      });
    }
  });
});
