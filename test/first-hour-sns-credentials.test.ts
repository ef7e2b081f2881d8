/**
 * SNS without credentials: `validate` passed and `run` started, then every batch failed with
 * CredentialsProviderError for up to 15 minutes. Now the SDK's default chain is asked at start
 * and by `validate`: a clear warning, and /readyz not ready with the reason. With the dummy keys
 * the README gives for an emulator, the relay is ready and publishes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Daemon, MAIN, ROOT, waitFor } from './support/daemon.ts';
import { tempDir } from './support/pipeline.ts';
import { SnsEmulator } from '../tools/sns-emulator.ts';

let sns: SnsEmulator | null = null;
const daemons: Daemon[] = [];
after(async () => {
  for (const d of daemons) d.proc.kill('SIGKILL');
  await sns?.close();
});

/** Nothing in the chain can answer: no keys, no profile files, no instance metadata. */
function noCredentials(dir: string): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: '',
    AWS_SECRET_ACCESS_KEY: '',
    AWS_SESSION_TOKEN: '',
    AWS_PROFILE: '',
    AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'no-credentials'),
    AWS_CONFIG_FILE: path.join(dir, 'no-config'),
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '',
    AWS_CONTAINER_CREDENTIALS_FULL_URI: '',
    AWS_WEB_IDENTITY_TOKEN_FILE: '',
    HOME: dir,
  };
}

const config = (dir: string, topicArn: string, endpoint: string): string => `
sources:
  kong_http: { type: http, listen: "127.0.0.1:0", path: /kong, auth: { none: true } }
workspaces: { "*": { to: [profile_topic] } }
destinations:
  profile_topic: { type: sns, topic_arn: "${topicArn}", endpoint: "${endpoint}", batch: { max_wait: 50ms } }
state_dir: "${dir}/state"
admin: { listen: "127.0.0.1:0" }
log: { format: json }
`;

describe('SNS destinations without AWS credentials', () => {
  it('validate warns (exit 0) and names the destination', async () => {
    sns ??= await SnsEmulator.start();
    const dir = tempDir();
    const file = path.join(dir, 'config.yaml');
    writeFileSync(file, config(dir, 'arn:aws:sns:us-east-1:000000000000:t', sns.endpoint));
    const r = spawnSync(process.execPath, [MAIN, 'validate', '-c', file], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, ...noCredentials(dir) },
      timeout: 60_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stderr,
      /warning: no AWS credentials for SNS destination profile_topic \(.*\): every publish will fail/,
    );
    assert.match(r.stdout, /valid: .*1 warning/);
  });

  it('run warns at start and /readyz is not ready with the reason', async () => {
    sns ??= await SnsEmulator.start();
    const { topicArn } = await sns.topicWithQueue('no-credentials');
    const dir = tempDir();
    const d = Daemon.launch(dir, config(dir, topicArn, sns.endpoint), noCredentials(dir));
    daemons.push(d);
    await waitFor(() => d.hasLog(/^kong-log-relay running$/), 30_000, 'the relay to start');
    assert.ok(
      d.logs.some((l) => l.level === 40 && /^no AWS credentials for SNS destination profile_topic/.test(l.msg)),
      'a warning at start',
    );
    const r = await fetch(`${d.adminUrl}/readyz`);
    assert.equal(r.status, 503);
    const body = (await r.json()) as { ready: boolean; reasons: string[] };
    assert.equal(body.ready, false);
    assert.ok(
      body.reasons.some((x) => x.startsWith('no AWS credentials for SNS destination profile_topic')),
      JSON.stringify(body),
    );
    assert.equal((await d.stop()).code, 0);
  });

  it("with the README's dummy keys for an emulator: ready, and entries arrive", async () => {
    sns ??= await SnsEmulator.start();
    const { topicArn, queue } = await sns.topicWithQueue('dummy-keys');
    const dir = tempDir();
    const d = Daemon.launch(dir, config(dir, topicArn, sns.endpoint), {
      ...noCredentials(dir),
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    });
    daemons.push(d);
    await d.waitReady(60_000);
    assert.ok(!d.logs.some((l) => /AWS credentials/.test(l.msg)));
    const http = String(((await d.status()).sources as Record<string, Record<string, unknown>>).kong_http.listen);
    const post = await fetch(`http://${http}/kong`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"request":{"method":"PUT","uri":"\\/profile\\/1"},"response":{"status":200}}',
    });
    assert.equal(post.status, 200);
    await waitFor(async () => (await queue.drain()).length === 1, 30_000, 'the entry in the subscribed queue');
    assert.equal((await d.stop()).code, 0);
  });
});
