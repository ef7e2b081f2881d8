/**
 * What a case process and its peer process (receiver, emulator, load clients) say to each other
 * over the IPC channel. Every request carries an id; the answer carries the same id.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { BenchInput } from './input.ts';

export type PeerRequest =
  /** Start a counting webhook receiver; `stallMs` delays every answer (to `stallPath` only, when given): a slow destination. */
  | {
      readonly op: 'receiver';
      readonly expect: Readonly<Record<string, number>>;
      readonly stallMs?: number;
      readonly stallPath?: string;
    }
  /** Start the SNS/SQS emulator with one topic and a subscribed queue that is counted. */
  | { readonly op: 'sns'; readonly expect: number }
  /** Build the bodies of a load run: the input file's first `entries` entries, `perRequest` a body (not timed). */
  | {
      readonly op: 'prepare';
      readonly url: string;
      readonly token: string;
      readonly input: BenchInput;
      readonly entries: number;
      readonly perRequest: number;
      readonly connections: number;
    }
  /** POST the prepared bodies over `connections` keep-alive connections, each waiting for its answer. */
  | { readonly op: 'load' }
  /** What has arrived so far (path → entries). */
  | { readonly op: 'counts' }
  | { readonly op: 'stop' };

export interface LoadReport {
  readonly requests: number;
  readonly entries: number;
  /** Answers 429/503 (backpressure) that were retried, as Kong's queue does. */
  readonly retried: number;
  /** Other answers that were not 2xx (should be 0). */
  readonly failed: number;
  /** From the first request sent to the last answer, in the peer's clock. */
  readonly ms: number;
  /** CPU time of the peer process (clients and receiver) meanwhile. */
  readonly cpuMs: number;
}

export type PeerReply =
  | { readonly op: 'receiver'; readonly url: string }
  | { readonly op: 'sns'; readonly endpoint: string; readonly topicArn: string }
  | { readonly op: 'prepare' }
  | { readonly op: 'load'; readonly report: LoadReport }
  | { readonly op: 'counts'; readonly counts: Readonly<Record<string, number>> }
  | { readonly op: 'stop' };

export type Envelope<T> = { readonly id: number; readonly body: T };

/** Sent by the peer, unasked, once everything expected has arrived. */
export interface ReceivedEvent {
  readonly event: 'received';
  readonly counts: Readonly<Record<string, number>>;
}

export type PeerMessage = Envelope<PeerReply> | ReceivedEvent;

/** CPU affinity per role (2 cores: the relay on one, everything else on the other). */
export const RELAY_CPU = 0;
export const PEER_CPU = 1;

/** What runs a bench script: Node (with these options) or Deno (`npm run bench -- --deno`). */
export type ScriptRuntime = { readonly kind: 'node'; readonly args?: readonly string[] } | { readonly kind: 'deno' };

/** The Deno of the dev dependencies. */
export const DENO = path.join(import.meta.dirname, '../../node_modules/.bin/deno');

/** Start a compiled bench script with an IPC channel, pinned to `cpu` with taskset (when not null). */
export function startScript(
  script: string,
  args: readonly string[],
  cpu: number | null,
  runtime: ScriptRuntime = { kind: 'node' },
): ChildProcess {
  const file = path.resolve(import.meta.dirname, script);
  // The peer is always Node: under Deno (a case process), Node is the one on the PATH.
  const node = 'Deno' in globalThis ? 'node' : process.execPath;
  const command =
    runtime.kind === 'deno' ? [DENO, 'run', '--allow-all', '--quiet', file] : [node, ...(runtime.args ?? []), file];
  const pinned = cpu === null ? command : ['taskset', '-c', String(cpu), ...command];
  return spawn(pinned[0], [...pinned.slice(1), ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

/** The case side of the channel: requests with answers, and the "received" event. */
export class PeerClient {
  readonly #child: ChildProcess;
  #nextId = 1;
  readonly #pending = new Map<number, (reply: PeerReply) => void>();
  #received: Readonly<Record<string, number>> | null = null;
  #onReceived: ((counts: Readonly<Record<string, number>>) => void) | null = null;

  constructor(child: ChildProcess) {
    this.#child = child;
    child.on('message', (m: PeerMessage) => {
      if ('event' in m) {
        this.#received = m.counts;
        this.#onReceived?.(m.counts);
        return;
      }
      const resolve = this.#pending.get(m.id);
      this.#pending.delete(m.id);
      resolve?.(m.body);
    });
  }

  /** `nodeArgs`: e.g. --cpu-prof for the peer (`npm run bench -- --profile-peer`). */
  static start(pin: boolean, nodeArgs: readonly string[] = []): PeerClient {
    return new PeerClient(startScript('peer.js', [], pin ? PEER_CPU : null, { kind: 'node', args: nodeArgs }));
  }

  call<Op extends PeerRequest['op']>(
    request: Extract<PeerRequest, { op: Op }>,
  ): Promise<Extract<PeerReply, { op: Op }>> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, resolve as (reply: PeerReply) => void);
      this.#child.send({ id, body: request } satisfies Envelope<PeerRequest>, (e) => {
        if (e) reject(e);
      });
    });
  }

  /** Resolves with the counts once everything expected arrived, or with null after `timeoutMs`. */
  whenReceived(timeoutMs: number): Promise<Readonly<Record<string, number>> | null> {
    if (this.#received !== null) return Promise.resolve(this.#received);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#onReceived = null;
        resolve(null);
      }, timeoutMs);
      this.#onReceived = (counts) => {
        clearTimeout(timer);
        this.#onReceived = null;
        resolve(counts);
      };
    });
  }

  async stop(): Promise<void> {
    const exited = new Promise<void>((resolve) => {
      if (this.#child.exitCode !== null) resolve();
      else this.#child.once('exit', () => resolve());
    });
    await this.call({ op: 'stop' }).catch(() => undefined);
    await exited;
  }
}
