/**
 * What every case process shares: its parameters (JSON in argv[2]), measuring its own elapsed
 * time, CPU time and peak RSS, starting the real relay from a config file, and handing the
 * result back to the runner over IPC (or printing it when run by hand).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { formatDiagnostic } from '../src/config/diagnostics.ts';
import { loadConfigFile } from '../src/config/load.ts';
import { HeapGrowthBound } from '../src/commands/heap-growth.ts';
import { Relay } from '../src/relay.ts';
import { createLogger } from '../src/telemetry/log.ts';
import { cacheDir, type BenchInput } from './input.ts';
import type { PeerClient } from './peer-protocol.ts';

export interface CaseParams {
  readonly input: BenchInput;
  /** Pin the relay and its peer to one core each (taskset). */
  readonly pin: boolean;
  /** Write a CPU profile of the timed part here (`npm run bench -- --profile`). */
  readonly profileDir?: string;
  /** Node options for the peer process (profiling it). */
  readonly peerNodeArgs?: readonly string[];
  /** Case-specific settings. */
  readonly options: Readonly<Record<string, string | number | boolean>>;
}

export interface CaseResult {
  readonly name: string;
  /** Entries taken (file lines read, or entries POSTed) in the timed part. */
  readonly entries: number;
  /** Input bytes in the timed part. */
  readonly bytes: number;
  /** HTTP requests in the timed part (http cases). */
  readonly requests?: number;
  readonly ms: number;
  /** CPU time of this process (user + system, all its threads) in the timed part. */
  readonly cpuMs: number;
  /** Peak resident set size of this process since it started. */
  readonly maxRssMb: number;
  /** Every expected entry arrived (or, for baselines, was processed). */
  readonly complete: boolean;
  readonly notes?: readonly string[];
  /** Case-specific figures (overload: paused seconds, drops, buffered peak…). */
  readonly extra?: Readonly<Record<string, number | string | boolean>>;
}

export function caseParams(): CaseParams {
  const raw = process.argv[2];
  if (raw === undefined)
    throw new Error('bench case: expected its parameters as JSON in argv[2] (run it through `npm run bench`)');
  return JSON.parse(raw) as CaseParams;
}

export interface Measurement {
  /** Elapsed ms and CPU ms since start (and the profile written, when asked for). */
  stop(): Promise<{ ms: number; cpuMs: number }>;
}

/**
 * Start the clock (and, with `profileDir`, the V8 CPU profiler: only the timed part is profiled,
 * not module loading or the peer's start-up).
 */
export async function measure(name: string, profileDir?: string): Promise<Measurement> {
  let session: Session | null = null;
  if (profileDir !== undefined) {
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 250 });
    await session.post('Profiler.start');
  }
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  return {
    async stop() {
      const ms = performance.now() - t0;
      const used = process.cpuUsage(cpu);
      if (session !== null && profileDir !== undefined) {
        const { profile } = await session.post('Profiler.stop');
        const file = path.join(profileDir, `${name}.cpuprofile`);
        writeFileSync(file, JSON.stringify(profile));
        session.disconnect();
        process.stderr.write(`profile of the timed part: ${file}\n`);
      }
      return { ms, cpuMs: (used.user + used.system) / 1000 };
    },
  };
}

export function peakRssMb(): number {
  // maxRSS is in KiB on Linux.
  return process.resourceUsage().maxRSS / 1024;
}

/** A fresh work directory (config, state, dead letters) for one case run. */
export function workDir(name: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(cacheDir(), `run-${name}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The real daemon in this process, from a config file, with the heap growth `run` sets up (once
 * per process); logs (warn and above) go to stderr.
 */
export function createRelay(configFile: string): Relay {
  const { config, diagnostics } = loadConfigFile(configFile);
  if (config === null) throw new Error(`bench config is invalid:\n${diagnostics.map(formatDiagnostic).join('\n')}`);
  const log = createLogger(config.log, process.stderr);
  const heapGrowth = new HeapGrowthBound().start(config.heapGrowth);
  if (heapGrowth.reason !== undefined) process.stderr.write(`heap growth left to V8: ${heapGrowth.reason}\n`);
  return new Relay(config, log);
}

/** A file case's timed run: from relay.start() until the peer has received every entry. */
export interface FileRelayRun {
  readonly ms: number;
  readonly cpuMs: number;
  /** Everything arrived before the timeout. */
  readonly complete: boolean;
  /** What the peer received (all of it, or what it had at the timeout). */
  readonly counts: Readonly<Record<string, number>>;
  /** ms the file source spent paused by backpressure. */
  readonly pausedMs: number;
}

/**
 * Start the relay of `configFile` (its file source reads the whole input from the start), stop
 * the clock once `peer` has received everything (or after `timeoutMs`), then stop the relay.
 */
export async function timeFileRelay(
  name: string,
  configFile: string,
  peer: PeerClient,
  timeoutMs: number,
  profileDir?: string,
): Promise<FileRelayRun> {
  const relay = createRelay(configFile);
  const m = await measure(name, profileDir);
  await relay.start();
  const received = await peer.whenReceived(timeoutMs);
  const { ms, cpuMs } = await m.stop();
  const counts = received ?? (await peer.call({ op: 'counts' })).counts;
  await relay.stop();
  const source = relay.metrics.source('kong_file');
  return { ms, cpuMs, complete: received !== null, counts, pausedMs: source.pausedMs };
}

/** Hand the result to the runner and end the process (nothing may keep it alive). */
export function finish(result: CaseResult): void {
  if (process.send !== undefined) process.send({ result }, () => process.exit(0));
  else {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    process.exit(0);
  }
}

/** Run a case's main function; any failure ends the process with the error on stderr. */
export function runCase(main: (params: CaseParams) => Promise<CaseResult>): void {
  main(caseParams()).then(finish, (e: unknown) => {
    process.stderr.write(`bench case failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
