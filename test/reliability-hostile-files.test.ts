/**
 * Hostile content in the tailed log file: binary garbage, invalid UTF-8, NUL bytes, a 100 MB
 * line, lines that are JSON but not objects, CRLF endings, and request paths built to be
 * expensive against the configured rule regex. Valid entries (also those carrying invalid
 * UTF-8, which Kong passes through) are delivered and routed; every invalid line is
 * dead-lettered and counted; nothing invalid is delivered; memory stays bounded.
 */
import assert from 'node:assert/strict';
import { closeSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfigText } from '../src/config/load.ts';
import { waitFor } from './support/daemon.ts';
import { generate } from './support/kong.ts';
import { account, deadLetters, Fleet, idsIn, MiB, rssBytes, waitForAll } from './support/reliability-harness.ts';
import { reliabilityReport } from './support/reliability-report.ts';
import { SeededRandom } from './support/seeded-random.ts';

const fleet = new Fleet();
const report = reliabilityReport('reliability-hostile-files');
const PROFILE = '^/profile/[0-9]+/settings$';
const HUGE_LINE_BYTES = 100 * MiB;
const RSS_LIMIT = 400 * MiB;

/** A Kong entry with its request path (and query) replaced; "/" escaped the lua-cjson way. */
function withUri(text: string, uri: string): string {
  const o = JSON.parse(text) as { request: { uri: string } };
  o.request.uri = uri;
  return JSON.stringify(o).replaceAll('/', '\\/');
}

/** The bytes of an entry with raw bytes spliced into its user-agent value (Kong does not validate UTF-8). */
function withRawBytes(text: string, bytes: number[]): Buffer {
  const at = text.indexOf('"user-agent":"') + '"user-agent":"'.length;
  assert.ok(at > 20, 'entry has a user-agent');
  return Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from(bytes), Buffer.from(text.slice(at))]);
}

describe('reliability: hostile content in log files', () => {
  it('garbage, invalid UTF-8, NULs, a 100 MB line and pathological paths: valid entries delivered and routed, invalid lines dead-lettered, nothing invalid delivered', async () => {
    const row = report.row('hostile content in log files');
    const random = new SeededRandom(0x5eed);
    const { dir, logFile } = fleet.kongLogDir('klr-rel-hostile-files-');
    const hook = await fleet.receiver();
    const yaml = `
sources:
  tail: { type: file, paths: ["${logFile}"], start_at: beginning, poll_interval: 50ms }
workspaces: { "*": { to: [all] } }
rules:
  - { name: profile, when: { path: '${PROFILE}' }, to: [profile] }
destinations:
  all: { type: webhook, url: "${hook.url}/all", encoding: ndjson, batch: { max_events: 200, max_wait: 50ms } }
  profile: { type: webhook, url: "${hook.url}/profile", encoding: ndjson, batch: { max_wait: 50ms } }
state_dir: ${dir}/state
admin: { listen: "127.0.0.1:0" }
log: { level: info, format: json }
`;
    // Rule regexes run on RE2 (linear time): a nested repetition is fine, a backreference is refused.
    const codes = (y: string): string[] =>
      loadConfigText(y, path.join(dir, 'c.yaml'), {}).diagnostics.map((d) => d.code);
    assert.ok(!codes(yaml).includes('KLR_CONFIG_REGEX'));
    assert.ok(!codes(yaml.replace(PROFILE, '^/(a+)+$')).includes('KLR_CONFIG_REGEX'));
    assert.ok(codes(yaml.replace(PROFILE, '^/(a)\\1$')).includes('KLR_CONFIG_REGEX'));
    const daemon = await fleet.daemon(dir, yaml);

    const base = generate(400, { seed: 801 });
    const valid: { id: string; bytes: Buffer; uri: string }[] = [];
    const invalid: { what: string; bytes: Buffer }[] = [];
    const lines: Buffer[] = [];
    const addValid = (id: string, bytes: Buffer, uri: string): void => {
      valid.push({ id, bytes, uri });
      lines.push(bytes);
    };
    const addInvalid = (what: string, bytes: Buffer): void => {
      invalid.push({ what, bytes });
      lines.push(bytes);
    };
    const uriOf = (text: string): string => (JSON.parse(text) as { request: { uri: string } }).request.uri;

    let next = 0;
    const take = (): { id: string; text: string } => base[next++];
    for (let i = 0; i < 200; i++) {
      const e = take();
      addValid(e.id, Buffer.from(e.text), uriOf(e.text));
    }
    for (let i = 0; i < 20; i++)
      addInvalid('binary garbage', Buffer.from(random.bytes(random.int(1, 2000)).map((b) => (b === 0x0a ? 0x0b : b))));
    for (let i = 0; i < 10; i++) {
      const e = take();
      addValid(e.id, withRawBytes(e.text, [0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]), uriOf(e.text));
    }
    for (let i = 0; i < 5; i++)
      addInvalid('invalid UTF-8 only', Buffer.from([0xc0, 0xaf, 0xff, 0xfe, 0xfd, 0x80, 0x81]));
    for (let i = 0; i < 3; i++) addInvalid('NUL run', Buffer.alloc(4096));
    for (let i = 0; i < 3; i++) {
      const e = take();
      addInvalid('NUL inside an entry', withRawBytes(e.text, [0x00]));
    }
    for (let i = 0; i < 2; i++) {
      const e = take();
      addInvalid('NULs before an entry', Buffer.concat([Buffer.alloc(16), Buffer.from(e.text)]));
    }
    for (const text of [
      '[{"request":{"method":"GET"}}]',
      '"just a string"',
      '42',
      'null',
      'true',
      `${'['.repeat(600)}${']'.repeat(600)}`,
      `${take().text} trailing`,
      '{"unterminated": "value',
    ])
      addInvalid('JSON but not one object', Buffer.from(text));
    // Pathological paths against the rule regex (safe: linear), a few that match.
    const patho = [
      `/profile/${'1'.repeat(200_000)}/settingsX`,
      `/profile/${'1'.repeat(200_000)}/settings`,
      `/${'/'.repeat(200_000)}`,
      `/profile/${'%2F'.repeat(60_000)}`,
      `/profile/${'1/'.repeat(100_000)}settings`,
      `/${'a'.repeat(300_000)}!`,
      '/profile/42/settings',
      '/profile/42/settings?tab=1',
      '/profile/42/settings/',
      `/profile/42/settings${'\u00e9'.repeat(50_000)}`,
    ];
    for (const uri of patho) {
      const e = take();
      addValid(e.id, Buffer.from(withUri(e.text, uri)), uri);
    }
    for (let i = 0; i < 10; i++) {
      const e = take();
      addValid(e.id, Buffer.from(`${e.text}\r`), uriOf(e.text));
    } // CRLF line endings
    lines.push(Buffer.from(''), Buffer.from('   \t  '), Buffer.from('\r')); // blank lines: skipped, not invalid
    const tail = base.slice(next, next + 100);
    next += 100;

    // Write it all, then one 100 MB line, then more valid entries: the line is skipped with bounded memory.
    const fd = openSync(logFile, 'a');
    writeSync(fd, Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')])));
    const piece = Buffer.alloc(MiB, 0x61);
    writeSync(fd, '{"pad":"');
    for (let written = 0; written < HUGE_LINE_BYTES; written += piece.length) writeSync(fd, piece);
    writeSync(fd, '"}\n');
    invalid.push({ what: '100 MB line', bytes: Buffer.alloc(0) });
    writeSync(fd, `${tail.map((e) => e.text).join('\n')}\n`);
    closeSync(fd);
    for (const e of tail) valid.push({ id: e.id, bytes: Buffer.from(e.text), uri: uriOf(e.text) });

    let maxRss = 0;
    const re = new RegExp(PROFILE);
    const owedProfile = valid.filter((v) => re.test(v.uri.split('?')[0])).map((v) => v.id);
    const tallies = (): { name: string; owed: string[]; arrived: string[] }[] => [
      { name: 'all', owed: valid.map((v) => v.id), arrived: hook.entries('/all') },
      { name: 'profile', owed: owedProfile, arrived: hook.entries('/profile') },
    ];
    await waitForAll(
      () => {
        maxRss = Math.max(maxRss, rssBytes(daemon.proc.pid) ?? 0);
        return tallies();
      },
      90_000,
      'every valid entry',
    );
    await waitFor(
      () => deadLetters(path.join(dir, 'state'), 'source-tail').length >= invalid.length,
      30_000,
      'every invalid line dead-lettered',
    );
    const dead = deadLetters(path.join(dir, 'state'), 'source-tail');
    const invalidMetric = await daemon.metric('kong_log_relay_events_invalid_total', { source: 'tail' });
    assert.equal(daemon.proc.exitCode, null, 'the daemon is still running');
    await daemon.stop();

    const result = account(valid.length, tallies());
    row
      .describe(
        `${valid.length} valid entries (10 with raw invalid UTF-8, 10 with CRLF, 10 with 200–300 KB pathological paths) mixed with ${invalid.length} invalid lines`,
        `binary garbage, invalid UTF-8, NUL runs and NULs in entries, non-object JSON, 600-deep nesting, one ${HUGE_LINE_BYTES / MiB} MB line; rule regex ${PROFILE}`,
      )
      .set(result)
      .note(
        `${dead.length} dead letters (${[...new Set(dead.map((d) => d.reason))].join(', ')}), events_invalid_total ${invalidMetric}; ${owedProfile.length} routed by the rule; max RSS ${Math.round(maxRss / MiB)} MiB`,
      );
    assert.deepEqual(result.missing, { all: [], profile: [] });
    assert.deepEqual(result.unexpected, { all: [], profile: [] }, 'nothing invalid, nothing misrouted');
    assert.equal(result.duplicated, 0);
    assert.equal(dead.length, invalid.length, 'each invalid line dead-lettered once');
    assert.equal(invalidMetric, invalid.length, 'and counted');
    assert.equal(dead.filter((d) => d.reason === 'line_too_long').length, 1);
    assert.ok(
      dead.every((d) => (d.raw ?? '').length <= 64 * 1024),
      'a dead letter keeps at most 64 KiB of a line',
    );
    for (const text of hook.entries('/all')) {
      const parsed: unknown = JSON.parse(text);
      assert.ok(parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed));
    }
    // Raw invalid UTF-8 in an entry reaches the destination as U+FFFD, in valid JSON.
    const utf8 = idsIn(hook.entries('/all').filter((t) => t.includes('\ufffd'))).counts;
    assert.ok(valid.slice(200, 210).every((v) => utf8.has(v.id)));
    if (maxRss > 0) assert.ok(maxRss < RSS_LIMIT, `memory bounded: ${Math.round(maxRss / MiB)} MiB`);
    row.pass();
  });
});
