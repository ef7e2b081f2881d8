/**
 * `top [--admin URL | -c FILE]`: a live view of a running relay, read from its admin listener
 * (/status and /metrics) once a second: per source entries/s and state, per destination
 * entries/s, buffer fill, in-flight batches, retries, dead letters, last error and whether it
 * blocks. Fits 80 columns; `q` or Ctrl-C quits. When stdout is not a terminal it prints plain
 * lines instead, one per source and destination each interval.
 */
import { adminEndpoint } from './admin-endpoint.ts';

export interface TopOptions {
  readonly admin: string | undefined;
  readonly config: string | undefined;
  readonly token: string | undefined;
  readonly intervalMs: number;
}

interface DestinationView {
  readonly type: string;
  readonly routed: number;
  readonly delivered: number;
  readonly deadLettered: number;
  readonly dropped: number;
  readonly retries: number;
  readonly bufferedEvents: number;
  readonly bufferedBytes: number;
  readonly inFlight: number;
  readonly blocking: boolean;
  readonly lastError: { readonly time: string; readonly message: string } | null;
  readonly bufferLimit?: { readonly events: number; readonly bytes: number };
  readonly concurrency?: number;
}

interface StatusView {
  readonly version: string;
  readonly runtime: string;
  readonly state: string;
  readonly sources: Record<string, Record<string, unknown>>;
  readonly destinations: Record<string, DestinationView>;
}

/** One poll: /status plus the counters top needs from /metrics. */
interface Sample {
  readonly at: number;
  readonly status: StatusView;
  readonly received: ReadonlyMap<string, number>;
}

const WIDTH = 80;

export async function topCommand(options: TopOptions): Promise<number> {
  const base = adminBase(options);
  if (base.startsWith('error:')) {
    process.stderr.write(`kong-log-relay top: ${base.slice(6)}\n`);
    return 2;
  }
  const headers: Record<string, string> =
    options.token === undefined ? {} : { authorization: `Bearer ${options.token}` };
  const tty = process.stdout.isTTY === true;
  let previous: Sample | null = null;
  let stop = false;
  let wake = (): void => {};
  const quit = (): void => {
    stop = true;
    wake();
  };
  process.once('SIGINT', quit);
  process.once('SIGTERM', quit);
  if (tty && process.stdin.isTTY) {
    process.stdin.setRawMode(true);
    process.stdin.resume();
    process.stdin.on('data', (key: Buffer) => {
      if (key[0] === 0x71 /* q */ || key[0] === 0x03 /* Ctrl-C */) quit();
    });
    process.stdout.write('\x1b[?1049h\x1b[?25l'); // alternate screen, hide cursor
  }
  try {
    while (!stop) {
      const sample = await poll(base, headers).catch((e: Error) => e);
      if (sample instanceof Error) {
        const line = `kong-log-relay top: ${base}: ${sample.message} (retrying)`;
        if (tty) process.stdout.write(`\x1b[H\x1b[2J${line.slice(0, WIDTH)}\n`);
        else process.stdout.write(`${line}\n`);
      } else {
        const lines = render(sample, previous, base, tty);
        process.stdout.write(tty ? `\x1b[H\x1b[2J${lines.join('\n')}\n` : `${lines.join('\n')}\n`);
        previous = sample;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, options.intervalMs);
      });
    }
  } finally {
    if (tty && process.stdin.isTTY) {
      process.stdout.write('\x1b[?25h\x1b[?1049l');
      process.stdin.setRawMode(false);
      process.stdin.pause();
    }
  }
  return 0;
}

/** The admin URL: --admin, or the config's admin.listen; a string starting with "error:" when neither works. */
function adminBase(options: TopOptions): string {
  const endpoint = adminEndpoint(options);
  if (typeof endpoint === 'string') return `error:${endpoint}`;
  if ('socketPath' in endpoint) return `error:top reads a TCP admin listener, not ${endpoint.label}`;
  return `http://${endpoint.label}`;
}

async function poll(base: string, headers: Record<string, string>): Promise<Sample> {
  const get = async (path: string): Promise<string> => {
    const r = await fetch(base + path, { headers, signal: AbortSignal.timeout(3000) });
    if (!r.ok) throw new Error(`GET ${path}: HTTP ${r.status}`);
    return r.text();
  };
  const [status, metrics] = await Promise.all([get('/status'), get('/metrics')]);
  const received = new Map<string, number>();
  for (const m of metrics.matchAll(/^kong_log_relay_events_received_total\{source="([^"]*)"\} (\S+)$/gm))
    received.set(m[1], Number(m[2]));
  return { at: Date.now(), status: JSON.parse(status) as StatusView, received };
}

function render(now: Sample, before: Sample | null, base: string, tty: boolean): string[] {
  const seconds = before === null ? 0 : (now.at - before.at) / 1000;
  const rate = (a: number, b: number | undefined): string =>
    before === null || b === undefined || seconds <= 0 ? '-' : compact((a - b) / seconds);
  const s = now.status;
  const sources = Object.entries(s.sources).map(([name, src]) => {
    const total = now.received.get(name) ?? 0;
    return { name, total, rate: rate(total, before?.received.get(name)), state: sourceState(src) };
  });
  const destinations = Object.entries(s.destinations).map(([name, d]) => ({
    name,
    d,
    rate: rate(d.delivered, before?.status.destinations[name]?.delivered),
  }));
  if (!tty) {
    const time = new Date(now.at).toISOString();
    return [
      ...sources.map((x) => `${time} source ${x.name} entries/s=${x.rate} total=${x.total} ${x.state}`),
      ...destinations.map(
        ({ name, d, rate: r }) =>
          `${time} destination ${name} entries/s=${r} buffer=${d.bufferedEvents}/${d.bufferLimit?.events ?? '?'} bytes=${d.bufferedBytes} in_flight=${d.inFlight} retries=${d.retries} dead_lettered=${d.deadLettered} dropped=${d.dropped}${d.blocking ? ' BLOCKING' : ''}${d.lastError === null ? '' : ` last_error="${d.lastError.message}" at ${d.lastError.time}`}`,
      ),
    ];
  }
  const out: string[] = [];
  const clock = new Date(now.at).toLocaleTimeString('en-GB', { hour12: false });
  out.push(
    fit(`kong-log-relay ${s.version} ${s.runtime}  ${s.state}  ${base}`, WIDTH - 18) +
      pad(`${clock}  q: quit`, 18, true),
  );
  out.push('');
  out.push(`${pad('SOURCE', 24)}${pad('entries/s', 10, true)}${pad('total', 10, true)}  state`);
  for (const x of sources)
    out.push(fit(`${pad(x.name, 24)}${pad(x.rate, 10, true)}${pad(compact(x.total), 10, true)}  ${x.state}`));
  out.push('');
  out.push(
    `${pad('DESTINATION', 18)}${pad('ent/s', 7, true)} ${pad('buffer', 22)}${pad('flight', 7, true)}${pad('retry', 7, true)}${pad('dead', 7, true)}${pad('drop', 7, true)}`,
  );
  for (const { name, d, rate: r } of destinations) {
    const limit = d.bufferLimit?.events ?? 0;
    const share = limit > 0 ? d.bufferedEvents / limit : 0;
    const bytesShare =
      d.bufferLimit !== undefined && d.bufferLimit.bytes > 0 ? d.bufferedBytes / d.bufferLimit.bytes : 0;
    const fill = Math.max(share, bytesShare);
    const bar = `${'#'.repeat(Math.round(fill * 10)).padEnd(10, '.')} ${pad(`${Math.round(fill * 100)}%`, 4, true)}`;
    out.push(
      `${pad(name, 18)}${pad(r, 7, true)} [${bar}] ${pad(compact(d.bufferedEvents), 5, true)}${pad(`${d.inFlight}`, 7, true)}${pad(compact(d.retries), 7, true)}${pad(compact(d.deadLettered), 7, true)}${pad(compact(d.dropped), 7, true)}`,
    );
    const state = [
      d.blocking ? 'BLOCKING (sources paused, http 429)' : '',
      `buffer ${bytes(d.bufferedBytes)}${d.bufferLimit === undefined ? '' : ` of ${bytes(d.bufferLimit.bytes)}`}`,
    ].filter((x) => x !== '');
    out.push(fit(`  ${state.join(', ')}`));
    if (d.lastError !== null) out.push(fit(`  last error ${ago(d.lastError.time, now.at)}: ${d.lastError.message}`));
  }
  return out;
}

function sourceState(src: Record<string, unknown>): string {
  const parts: string[] = [];
  if (src.ready === false) parts.push('NOT READY');
  if (Array.isArray(src.files)) parts.push(`${src.files.length} file${src.files.length === 1 ? '' : 's'}`);
  if (src.paused === true) parts.push('PAUSED (backpressure)');
  if (typeof src.listen === 'string') parts.push(`http ${src.listen}`);
  const requests = src.requests as Record<string, number> | undefined;
  if (requests?.['429'] !== undefined) parts.push(`429s: ${requests['429']}`);
  return parts.join(', ');
}

function ago(time: string, now: number): string {
  const s = Math.max(0, Math.round((now - Date.parse(time)) / 1000));
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
}

function compact(n: number): string {
  if (!Number.isFinite(n)) return '-';
  if (Math.abs(n) >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (Math.abs(n) >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return Number.isInteger(n) ? `${n}` : n.toFixed(1);
}

function bytes(n: number): string {
  if (n >= 1 << 30) return `${(n / 2 ** 30).toFixed(1)}GiB`;
  if (n >= 1 << 20) return `${(n / 2 ** 20).toFixed(1)}MiB`;
  if (n >= 1 << 10) return `${(n / 2 ** 10).toFixed(1)}KiB`;
  return `${n}B`;
}

function pad(text: string, width: number, right = false): string {
  const t = text.length > width ? `${text.slice(0, width - 1)}~` : text;
  return right ? t.padStart(width) : t.padEnd(width);
}

function fit(text: string, width = WIDTH): string {
  return text.length > width ? `${text.slice(0, width - 1)}~` : text;
}
