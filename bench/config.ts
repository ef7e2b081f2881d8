/**
 * Relay configs of the benchmark cases, as YAML files: the routing every pipeline case shares
 * (a PUT/PATCH path-regex rule, workspace routing and "*"), a source (file or http) and the
 * destinations (webhooks on the peer's receiver, or an SNS topic on the emulator).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';

/** The webhook paths of the bench routing; the receiver counts per path. */
export type BenchRoute = 'global' | 'payments' | 'search' | 'profile';
export const BENCH_ROUTES: readonly BenchRoute[] = ['global', 'payments', 'search', 'profile'];

/** The rule's path regex (also used by input.ts to compute the expected counts). */
export const PROFILE_PATH = /^\/profile\/\d+$/;

export const HTTP_TOKEN = 'bench-token';

export type SourceSpec = { readonly kind: 'file'; readonly file: string } | { readonly kind: 'http' };

export type DestinationSpec =
  /** Four webhooks (one per route) on `url`; `extra` is YAML added to each (batch, buffer, …). */
  | { readonly kind: 'webhook'; readonly url: string; readonly extra?: string }
  /** Every entry to one SNS topic (the rule and workspaces still run, with no destination of their own). */
  | { readonly kind: 'sns'; readonly endpoint: string; readonly topicArn: string };

/**
 * The routing every pipeline shares: the profile rule, two workspaces and "*", each to the
 * destination named (a workspace with none still routes, to nothing of its own).
 */
function routingYaml(to: {
  readonly payments?: string;
  readonly search?: string;
  readonly all: string;
  readonly profile: string;
}): string {
  const list = (name: string | undefined): string => (name === undefined ? '{}' : `{ to: [${name}] }`);
  return String.raw`
workspaces:
  payments: ${list(to.payments)}
  search: ${list(to.search)}
  "*": ${list(to.all)}
rules:
  - name: profile-updated
    when: { methods: [PUT, PATCH], path: '^/profile/\d+$', status: [2xx] }
    unless: { path: '/avatar$' }
    to: [${to.profile}]
`;
}

function sourceYaml(s: SourceSpec): string {
  if (s.kind === 'file')
    return `sources:\n  kong_file: { type: file, paths: [${JSON.stringify(s.file)}], start_at: beginning }\n`;
  return `sources:\n  kong_http: { type: http, listen: "127.0.0.1:0", path: /kong, auth: { bearer: ${HTTP_TOKEN} } }\n`;
}

function destinationsYaml(d: DestinationSpec): string {
  if (d.kind === 'sns') {
    return `${routingYaml({ all: 'all_topic', profile: 'all_topic' })}destinations:\n  all_topic: { type: sns, topic_arn: ${JSON.stringify(d.topicArn)}, endpoint: ${JSON.stringify(d.endpoint)}, message_attributes: { method: "{request.method}", workspace: "{workspace}" } }\n`;
  }
  const extra = d.extra === undefined || d.extra === '' ? '' : `, ${d.extra}`;
  const hook = (name: string, route: BenchRoute): string =>
    `  ${name}: { type: webhook, url: ${JSON.stringify(`${d.url}/${route}`)}, encoding: ndjson${extra} }\n`;
  return `${routingYaml({ payments: 'payments_hook', search: 'search_hook', all: 'global_hook', profile: 'profile_hook' })}destinations:\n${hook('profile_hook', 'profile')}${hook('payments_hook', 'payments')}${hook('search_hook', 'search')}${hook('global_hook', 'global')}`;
}

/**
 * Write the config file for a case into `dir` (also its state_dir); returns its path. `logLevel`:
 * the overload case expects warnings (buffer full, drops) and only wants errors. `redact`: true
 * keeps the default credential redaction; every case turns it off (as the relay was before it
 * existed, and so that --compare measures the same work) except p1r, which measures its cost.
 * `heapGrowth`: `v8` leaves the heap's growth to V8 (no run-time V8 flags; an overload variant).
 */
export function writeBenchConfig(
  dir: string,
  source: SourceSpec,
  destination: DestinationSpec,
  logLevel: 'warn' | 'error' = 'warn',
  redact = false,
  heapGrowth: 'bounded' | 'v8' = 'bounded',
): string {
  const yaml = `${sourceYaml(source)}${destinationsYaml(destination)}${redact ? '' : 'redact: false\n'}${heapGrowth === 'v8' ? 'heap_growth: v8\n' : ''}
state_dir: ${JSON.stringify(path.join(dir, 'state'))}
defaults: { dead_letter: { dir: ${JSON.stringify(path.join(dir, 'dead-letter'))} } }
shutdown_timeout: 10s
admin: false
log: { level: ${logLevel}, format: json }
`;
  const file = path.join(dir, 'relay.yaml');
  writeFileSync(file, yaml);
  return file;
}
