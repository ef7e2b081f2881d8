/**
 * Peer case: syslog-ng (Debian's syslog-ng-core + syslog-ng-mod-http) doing p1's job with two
 * webhooks: file source → json-parser → the profile rule as a filter → /profile, and every entry
 * → /global; ndjson batches of 500 to the peer's counting receiver. Workspace routing is left
 * out (the issue's peer has two destinations), so syslog-ng sends ~1.15 entries per entry read
 * where p1 sends ~1.43. The clock runs from starting syslog-ng until the receiver has counted
 * every entry; CPU time and peak RSS are syslog-ng's own (all its threads, from /proc). When
 * syslog-ng or its http module is not installed the case is skipped with a note.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCase, workDir, type CaseResult } from './case-support.ts';
import { PeerClient } from './peer-protocol.ts';

const TIMEOUT_MS = 120_000;
const NAME = 'peer: syslog-ng, file → json-parser → filter → 2 http destinations (ndjson, 500/batch)';
/** Clock ticks per second of /proc/PID/stat (USER_HZ: 100 on Linux). */
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** The profile rule of the bench routing (see config.ts) as a syslog-ng filter on the parsed entry. */
const PROFILE_FILTER = String.raw`
filter f_profile {
  match('^(PUT|PATCH)$' value(".kong.request.method") type(pcre))
  and match('^/profile/[0-9]+(\?|$)' value(".kong.request.uri") type(pcre))
  and match('^2[0-9][0-9]$' value(".kong.response.status") type(pcre))
  and not match('/avatar(\?|$)' value(".kong.request.uri") type(pcre));
};`;

function httpDestination(name: string, url: string): string {
  // As the relay's webhooks here: ndjson, 500 entries a batch, 100 ms max wait, 4 at once.
  return `destination d_${name} {
  http(url("${url}/${name}") method("POST") headers("Content-Type: application/x-ndjson")
       body("\${MESSAGE}") delimiter("\\n") batch-lines(500) batch-bytes(1048576) batch-timeout(100)
       workers(4) log-fifo-size(20000));
};`;
}

function configText(file: string, url: string): string {
  return `@version: 3.38
options { threaded(yes); use-dns(no); dns-cache(no); stats-freq(0); log-msg-size(65536); };
source s_kong {
  file(${JSON.stringify(file)} flags(no-parse) follow-freq(1) log-fetch-limit(1000) log-iw-size(10000));
};
parser p_json { json-parser(prefix(".kong.")); };
${PROFILE_FILTER}
${httpDestination('profile', url)}
${httpDestination('global', url)}
log {
  source(s_kong);
  parser(p_json);
  log { filter(f_profile); destination(d_profile); flags(flow-control); };
  log { destination(d_global); flags(flow-control); };
  flags(flow-control);
};
`;
}

/** Why syslog-ng cannot run this config here (not installed, no http module), or null. */
function unavailable(configFile: string): string | null {
  const check = spawnSync('syslog-ng', ['--syntax-only', '-f', configFile], { encoding: 'utf8' });
  if (check.error !== undefined)
    return 'syslog-ng is not installed (apt-get install syslog-ng-core syslog-ng-mod-http)';
  if (check.status !== 0)
    return `syslog-ng cannot run the config (is syslog-ng-mod-http installed?): ${check.stderr.trim().split('\n')[0]}`;
  return null;
}

/** CPU ms (user + system, all threads) and peak RSS MB of a running process. */
function processUsage(pid: number): { cpuMs: number; maxRssMb: number } {
  // Fields after the command name (which is in parentheses and may hold spaces): utime is the 14th.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuMs: (ticks * 1000) / CLOCK_TICKS, maxRssMb: hwm === null ? 0 : Number(hwm[1]) / 1024 };
}

function stopProcess(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }
  });
}

runCase(async ({ input, pin }): Promise<CaseResult> => {
  const work = workDir('syslog-ng');
  const peer = PeerClient.start(pin);
  const expected = { global: input.expected.global, profile: input.expected.profile };
  const skipped = (reason: string): CaseResult => ({
    name: NAME,
    entries: 0,
    bytes: 0,
    ms: 0,
    cpuMs: 0,
    maxRssMb: 0,
    complete: false,
    notes: [`skipped: ${reason}`],
    extra: { skipped: reason },
  });
  try {
    const { url } = await peer.call({ op: 'receiver', expect: expected });
    const configFile = path.join(work.dir, 'syslog-ng.conf');
    writeFileSync(configFile, configText(input.file, url));
    const reason = unavailable(configFile);
    if (reason !== null) return skipped(reason);
    const t0 = performance.now();
    // In the foreground, with its state in the work directory; pinned like this process (taskset
    // is inherited).
    const child = spawn(
      'syslog-ng',
      [
        '-F',
        '--no-caps',
        '-f',
        configFile,
        '-R',
        path.join(work.dir, 'syslog-ng.persist'),
        '-p',
        path.join(work.dir, 'syslog-ng.pid'),
        '-c',
        path.join(work.dir, 'syslog-ng.ctl'),
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const received = await peer.whenReceived(TIMEOUT_MS);
    const ms = performance.now() - t0;
    const usage = child.pid === undefined ? { cpuMs: 0, maxRssMb: 0 } : processUsage(child.pid);
    const counts = received ?? (await peer.call({ op: 'counts' })).counts;
    await stopProcess(child);
    return {
      name: NAME,
      entries: input.entries,
      bytes: input.bytes,
      ms,
      cpuMs: usage.cpuMs,
      maxRssMb: usage.maxRssMb,
      complete: received !== null,
      notes: received !== null ? [] : [`timed out; received ${JSON.stringify(counts)} of ${JSON.stringify(expected)}`],
      extra: { delivered: Object.values(counts).reduce((a, b) => a + b, 0) },
    };
  } finally {
    await peer.stop();
    work.remove();
  }
});
