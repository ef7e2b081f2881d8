/**
 * From what the schema accepted to the frozen shape the rest of the code sees: defaults
 * merged into each destination, durations in ms, sizes in bytes, regexes compiled,
 * templates parsed, every name reference checked.
 */
import path from 'node:path';
import { kongPathParameterProblem } from './hints.ts';
import { Template, TemplateSyntaxError } from '../event/template.ts';
import { captureNames } from '../route/captures.ts';
import type { MatchSpec, StatusRange } from '../route/match.ts';
import { RuleRegex } from '../route/rule-regex.ts';
import type { RoutingTable } from '../route/router.ts';
import { checkTemplate, resolveShape, type TemplateScope } from './shape-resolve.ts';
import type { ShapeSettings } from '../shape/shaper.ts';
import { type BufferSettings, resolveBuffer } from './buffer-settings.ts';
import type { ConfigPath, Diagnostic } from './diagnostics.ts';
import {
  type KongAdminSettings,
  type KongAdminSourceSettings,
  resolveKongAdmin,
  resolveKongAdminSource,
} from './kong-admin-resolve.ts';
import type { DestinationConfig, MatchConfig, ParsedConfig, SourceConfig, StatusPattern } from './schema.ts';
import type { ConfigTestCase } from './tests-schema.ts';
import { parseDuration, parseSize } from './units.ts';

export interface BatchSettings {
  readonly maxEvents: number;
  readonly maxBytes: number;
  readonly maxWaitMs: number;
}
export interface RetrySettings {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly maxElapsedMs: number;
}
export type { BufferSettings } from './buffer-settings.ts';
export interface DeadLetterSettings {
  readonly dir: string;
  readonly maxFileBytes: number;
  readonly maxTotalBytes: number;
  readonly maxFiles: number | undefined;
  /** The daemon continues the newest file after a restart; `replay` writes a file of its own. */
  readonly appendToNewest: boolean;
}

export interface DeliverySettings {
  readonly batch: BatchSettings;
  readonly retry: RetrySettings;
  readonly buffer: BufferSettings;
  readonly concurrency: number;
  readonly deadLetter: DeadLetterSettings;
  readonly timeoutMs: number;
}

export interface SnsDestination {
  readonly type: 'sns';
  readonly name: string;
  readonly topicArn: string;
  readonly region: string;
  readonly endpoint: string | undefined;
  readonly fifo: boolean;
  readonly subject: Template | undefined;
  readonly messageAttributes: readonly (readonly [name: string, value: Template, type: MessageAttributeType])[];
  readonly messageGroupId: Template | undefined;
  readonly messageDeduplicationId: Template | undefined;
  readonly shape: ShapeSettings;
  readonly delivery: DeliverySettings;
}

export type MessageAttributeType = 'String' | 'Number' | 'String.Array';

export interface WebhookDestination {
  readonly type: 'webhook';
  readonly name: string;
  readonly url: string;
  readonly method: 'POST' | 'PUT';
  /** Headers without placeholders. */
  readonly headers: Readonly<Record<string, string>>;
  /** Headers with placeholders, rendered from the first entry of each request. */
  readonly headerTemplates: readonly (readonly [name: string, value: Template])[];
  readonly encoding: 'json' | 'json_array' | 'ndjson';
  readonly gzip: boolean;
  readonly signing: { readonly scheme: 'standard' | 'kong'; readonly secret: string } | undefined;
  readonly shape: ShapeSettings;
  readonly delivery: DeliverySettings;
}

export type ResolvedDestination = SnsDestination | WebhookDestination;

export interface FileSource {
  readonly type: 'file';
  readonly name: string;
  readonly paths: readonly string[];
  readonly startAt: 'end' | 'beginning';
  readonly rotateWaitMs: number;
  readonly maxLineBytes: number;
  readonly pollIntervalMs: number;
  readonly followSymlinks: boolean;
  readonly deadLetter: DeadLetterSettings;
}

export interface HttpSource {
  readonly type: 'http';
  readonly name: string;
  readonly listen: string;
  readonly path: string;
  readonly auth: {
    readonly bearer?: string;
    readonly basic?: { readonly user: string; readonly password: string };
    readonly none: boolean;
  };
  readonly maxBodyBytes: number;
  /** Decoded body bytes the source holds at once (>= maxBodyBytes). */
  readonly maxInflightBodyBytes: number;
  readonly maxEntryBytes: number;
  readonly ack: 'accepted' | 'delivered';
  readonly ackTimeoutMs: number;
  readonly invalid: 'dead_letter' | 'reject';
  readonly requestTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxConnectionsPerClient: number;
  readonly retryAfterSeconds: number;
  readonly deadLetter: DeadLetterSettings;
}

export type ResolvedSource = FileSource | HttpSource | KongAdminSource;
export type KongAdminSource = KongAdminSourceSettings & { readonly deadLetter: DeadLetterSettings };

export interface ResolvedConfig {
  /** The file it was loaded from (absolute). */
  readonly file: string;
  readonly sources: readonly ResolvedSource[];
  readonly destinations: readonly ResolvedDestination[];
  readonly routing: RoutingTable;
  /** Workspace id → name. */
  readonly workspaceNames: ReadonlyMap<string, string>;
  /** Request header names (lowercase) that rules look at. */
  readonly ruleHeaders: readonly string[];
  readonly stateDir: string;
  /** The `kong_admin:` block; null when not set. */
  readonly kongAdmin: KongAdminSettings | null;
  readonly shutdownTimeoutMs: number;
  /** Whether `run` bounds V8's heap growth (src/commands/heap-growth.ts) or leaves it to V8. */
  readonly heapGrowth: 'bounded' | 'v8';
  readonly admin: {
    readonly listen: string;
    /** Bearer token for everything but /healthz and /readyz; undefined: open (loopback). */
    readonly token: string | undefined;
    readonly maxConnections: number;
    readonly idleTimeoutMs: number;
  } | null;
  readonly log: {
    readonly level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
    readonly format: 'json' | 'pretty' | 'auto';
  };
  /** The config's own unit tests (`kong-log-relay test`). */
  readonly tests: readonly ConfigTestCase[];
}

export const DEFAULT_DELIVERY = {
  batch: { max_events: 500, max_bytes: '1MiB', max_wait: '1s' },
  retry: { initial_delay: '200ms', max_delay: '30s', max_elapsed: '15m' },
  concurrency: 4,
  dead_letter: { max_file_bytes: '100MiB', max_total_bytes: '1GiB' },
  timeout: '30s',
} as const;

/**
 * max_inflight_body_bytes when not set: 64 MiB, or 4 × max_body_bytes when that is more (a config
 * that raised max_body_bytes must not be refused for a default it never wrote).
 * Why 64 MiB: it takes six full-size bodies (10 MiB, the default max_body_bytes) at once, and some
 * thirty Kong batches of 1000 entries (~2 MiB each); an ordinary request (Kong's default
 * max_batch_size of 1) is a few KiB. Each counted byte costs up to ~2-3 bytes of memory while its
 * body is split (the chunks joined, the entry strings), so the worst case stays near 200 MB, the
 * order of the destination buffers (16 MiB each by default) rather than 1024 sockets × 10 MiB.
 */
export function defaultMaxInflightBodyBytes(maxBodyBytes: number): number {
  return Math.max(64 * 1024 ** 2, 4 * maxBodyBytes);
}

/** Admin listener defaults: Prometheus and health checks need a handful of connections, briefly. */
export const ADMIN_MAX_CONNECTIONS = 64;
export const ADMIN_IDLE_TIMEOUT = '10s';

export const SNS_MAX_BATCH_ENTRIES = 10;
export const SNS_MAX_BATCH_BYTES = 256 * 1024;

export interface ResolveResult {
  readonly config: ResolvedConfig | null;
  readonly diagnostics: Diagnostic[];
}

/** Check references and build the resolved config. `file` is used to make relative paths absolute. */
export function resolveConfig(parsed: ParsedConfig, file: string): ResolveResult {
  const diagnostics: Diagnostic[] = [];
  const error = (code: Diagnostic['code'], p: ConfigPath, message: string, atKey = false): void => {
    diagnostics.push({ severity: 'error', code, path: p, message, atKey });
  };

  const base = path.dirname(path.resolve(file));
  const stateDir = path.resolve(base, parsed.state_dir);
  const destinationNames = Object.keys(parsed.destinations);

  // workspaces
  const workspaceNames = new Map<string, string>();
  const workspaceRoutes = new Map<string, readonly string[]>();
  let everyEvent: readonly string[] = [];
  for (const [ws, spec] of Object.entries(parsed.workspaces)) {
    if (ws === '*') {
      if (spec.id !== undefined)
        error('KLR_CONFIG_CONFLICT', ['workspaces', ws, 'id'], '"*" is every workspace and takes no id');
      everyEvent = spec.to;
      continue;
    }
    workspaceRoutes.set(ws, spec.to);
    const ids = spec.id === undefined ? [] : Array.isArray(spec.id) ? spec.id : [spec.id];
    ids.forEach((id, i) => {
      const other = workspaceNames.get(id);
      if (other !== undefined)
        error(
          'KLR_CONFIG_DUPLICATE',
          ['workspaces', ws, 'id', ...(Array.isArray(spec.id) ? [i] : [])],
          `workspace id ${id} is already mapped to "${other}"`,
        );
      else workspaceNames.set(id, ws);
    });
  }

  // rules (names, targets and regexes were checked by checkReferences)
  const headers = new Set<string>();
  const rules = parsed.rules.map((rule, i) => {
    const at: ConfigPath = ['rules', i];
    const compile = (m: MatchConfig | undefined, key: 'when' | 'unless'): MatchSpec | undefined => {
      if (m === undefined) return undefined;
      for (const h of Object.keys(m.headers ?? {})) headers.add(h.toLowerCase());
      return resolveMatch(m, [...at, key], diagnostics);
    };
    return { name: rule.name, when: compile(rule.when, 'when'), unless: compile(rule.unless, 'unless'), to: rule.to };
  });

  // destinations
  const customFields = new Set(parsed.custom_fields);
  const destinations = Object.entries(parsed.destinations).map(([name, d]) =>
    resolveDestination(name, d, parsed, stateDir, diagnostics, {
      captureNames: ruleCaptureNames(parsed, name),
      customFields,
    }),
  );

  const sources = Object.entries(parsed.sources).map(([name, s]) => {
    if (s.type === 'kong_admin' && parsed.kong_admin === undefined)
      error(
        'KLR_CONFIG_INVALID',
        ['sources', name, 'type'],
        'a kong_admin source needs the top-level kong_admin: block (url)',
      );
    if (s.type === 'http') {
      const { bearer, basic, none } = s.auth;
      if (none === true && (bearer !== undefined || basic !== undefined))
        error(
          'KLR_CONFIG_CONFLICT',
          ['sources', name, 'auth', 'none'],
          'none: true cannot be combined with bearer or basic',
        );
      if (none !== true && bearer === undefined && basic === undefined)
        error(
          'KLR_CONFIG_INVALID',
          ['sources', name, 'auth'],
          'no credentials: set bearer and/or basic, or none: true to accept unauthenticated requests',
        );
      if (s.max_inflight_body_bytes !== undefined) {
        const budget = parseSize(s.max_inflight_body_bytes);
        const maxBody = parseSize(s.max_body_bytes);
        if (budget < maxBody) {
          error(
            'KLR_CONFIG_CONFLICT',
            ['sources', name, 'max_inflight_body_bytes'],
            `${s.max_inflight_body_bytes} is less than max_body_bytes (${s.max_body_bytes}): a body of max_body_bytes could never be taken; set it to at least max_body_bytes (a few times it, so that several full-size batches are taken at once)`,
          );
        }
      }
    }
    return resolveSource(name, s, stateDir, base);
  });
  const listens = new Map<string, string>();
  // Port 0 means "any free port": two of those never collide.
  for (const s of sources) {
    if (s.type !== 'http' || /:0$/.test(s.listen)) continue;
    const other = listens.get(s.listen);
    if (other !== undefined)
      error('KLR_CONFIG_DUPLICATE', ['sources', s.name, 'listen'], `source "${other}" already listens on ${s.listen}`);
    listens.set(s.listen, s.name);
  }
  if (parsed.admin !== false && listens.has(parsed.admin.listen)) {
    error(
      'KLR_CONFIG_DUPLICATE',
      ['admin', 'listen'],
      `source "${listens.get(parsed.admin.listen)}" already listens on ${parsed.admin.listen}`,
    );
  }

  if (diagnostics.some((d) => d.severity === 'error')) return { config: null, diagnostics };
  const config: ResolvedConfig = {
    file: path.resolve(file),
    sources,
    destinations,
    routing: { destinations: destinationNames, rules, workspaces: workspaceRoutes, everyEvent },
    workspaceNames,
    ruleHeaders: [...headers],
    stateDir,
    kongAdmin: resolveKongAdmin(parsed.kong_admin, base),
    shutdownTimeoutMs: parseDuration(parsed.shutdown_timeout),
    heapGrowth: parsed.heap_growth,
    admin:
      parsed.admin === false
        ? null
        : {
            listen: parsed.admin.listen,
            token: parsed.admin.token,
            maxConnections: parsed.admin.max_connections ?? ADMIN_MAX_CONNECTIONS,
            idleTimeoutMs: parseDuration(parsed.admin.idle_timeout ?? ADMIN_IDLE_TIMEOUT),
          },
    log: parsed.log,
    tests: parsed.tests ?? [],
  };
  return { config: deepFreeze(config), diagnostics };
}

function resolveMatch(m: MatchConfig, at: ConfigPath, diagnostics: Diagnostic[]): MatchSpec {
  // Regexes RE2 refuses were reported by checkReferences (the config is then not resolved).
  const regex = (source: string | undefined, ignoreCase = false): RuleRegex | undefined => {
    if (source === undefined) return undefined;
    const re = RuleRegex.compile(source, { ignoreCase });
    return typeof re === 'string' ? undefined : re;
  };
  const set = (v: string | readonly string[] | undefined): ReadonlySet<string> | undefined =>
    v === undefined ? undefined : new Set(typeof v === 'string' ? [v] : v);
  return {
    methods: m.methods ? new Set(m.methods.map((x) => x.toUpperCase())) : undefined,
    path: regex(m.path),
    upstreamPath: regex(m.upstream_path),
    status: m.status?.map((s, i) => statusRange(s, [...at, 'status', i], diagnostics)),
    workspace: set(m.workspace),
    service: set(m.service),
    route: set(m.route),
    consumer: set(m.consumer),
    host: regex(m.host, true),
    entity: set(m.entity),
    operation: set(m.operation),
    headers: m.headers
      ? Object.entries(m.headers).flatMap(([h, src]) => {
          const re = regex(src);
          return re ? [[h.toLowerCase(), re] as const] : [];
        })
      : undefined,
  };
}

/** Named groups of the path regexes of the rules that route to a destination ({match.NAME}). */
function ruleCaptureNames(parsed: ParsedConfig, destination: string): Set<string> {
  const names = new Set<string>();
  for (const rule of parsed.rules) {
    if (!rule.to.includes(destination) || rule.when?.path === undefined) continue;
    const re = RuleRegex.compile(rule.when.path);
    if (typeof re !== 'string') for (const n of captureNames(re)) names.add(n);
  }
  return names;
}

const MATCH_REGEX_KEYS = ['path', 'upstream_path', 'host'] as const;

/**
 * Checks that need the whole document and must run even when the schema found errors
 * elsewhere (so `validate` reports everything at once): references to destinations, duplicate
 * rule names, destinations nothing routes to, regexes RE2 cannot compile.
 * Works on the raw YAML data, trusting nothing about its shape.
 */
export function checkReferences(raw: unknown): Diagnostic[] {
  const out: Diagnostic[] = [];
  const doc = asRecord(raw);
  const destinations = asRecord(doc.destinations);
  const known = Object.keys(destinations);
  const used = new Set<string>();
  const targets = (to: unknown, at: ConfigPath): void => {
    if (!Array.isArray(to)) return;
    to.forEach((d, i) => {
      if (typeof d !== 'string') return;
      if (known.includes(d)) used.add(d);
      else
        out.push({
          severity: 'error',
          code: 'KLR_CONFIG_UNDEFINED_DESTINATION',
          path: [...at, i],
          message: `destination "${d}" is not defined; defined: ${known.join(', ') || '(none)'}`,
        });
    });
  };
  for (const [ws, spec] of Object.entries(asRecord(doc.workspaces)))
    targets(asRecord(spec).to, ['workspaces', ws, 'to']);
  const ruleNames = new Map<string, number>();
  const rules = Array.isArray(doc.rules) ? doc.rules : [];
  rules.forEach((r, i) => {
    const rule = asRecord(r);
    if (typeof rule.name === 'string') {
      const first = ruleNames.get(rule.name);
      if (first !== undefined)
        out.push({
          severity: 'error',
          code: 'KLR_CONFIG_DUPLICATE',
          path: ['rules', i, 'name'],
          message: `rule name "${rule.name}" is already used by rules[${first}]`,
        });
      else ruleNames.set(rule.name, i);
    }
    targets(rule.to, ['rules', i, 'to']);
    for (const block of ['when', 'unless'] as const) {
      const m = asRecord(rule[block]);
      const regexes: [ConfigPath, unknown][] = MATCH_REGEX_KEYS.map((k) => [[k], m[k]]);
      for (const [h, v] of Object.entries(asRecord(m.headers))) regexes.push([['headers', h], v]);
      for (const [key, source] of regexes) {
        if (typeof source !== 'string') continue;
        const at: ConfigPath = ['rules', i, block, ...key];
        const re = RuleRegex.compile(source);
        const kongParameter = kongPathParameterProblem(source);
        if (typeof re !== 'string' && kongParameter !== undefined)
          out.push({ severity: 'error', code: 'KLR_CONFIG_REGEX', path: at, ...kongParameter });
        else if (typeof re === 'string')
          out.push({
            severity: 'error',
            code: 'KLR_CONFIG_REGEX',
            path: at,
            message: `invalid regex /${source}/: ${re}`,
          });
      }
    }
  });
  for (const name of known) {
    if (!used.has(name))
      out.push({
        severity: 'warning',
        code: 'KLR_CONFIG_UNUSED_DESTINATION',
        path: ['destinations', name],
        message: `destination "${name}" receives nothing: no rule or workspace sends to it`,
      });
  }
  return out;
}

function asRecord(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function statusRange(s: StatusPattern, at: ConfigPath, diagnostics: Diagnostic[]): StatusRange {
  if (typeof s === 'number') return { min: s, max: s };
  const lower = s.toLowerCase();
  if (lower.endsWith('xx')) {
    const c = Number(lower[0]) * 100;
    return { min: c, max: c + 99 };
  }
  const [a, b] = lower.split('-').map(Number);
  if (b === undefined) return { min: a, max: a };
  if (b < a)
    diagnostics.push({
      severity: 'error',
      code: 'KLR_CONFIG_INVALID',
      path: at,
      message: `status range "${s}" is empty: ${b} < ${a}`,
    });
  return { min: a, max: b };
}

function resolveDelivery(
  d: DestinationConfig,
  parsed: ParsedConfig,
  stateDir: string,
  name: string,
  diagnostics: Diagnostic[],
): DeliverySettings {
  const D = DEFAULT_DELIVERY;
  const g = parsed.defaults;
  const batch = { ...D.batch, ...g.batch, ...d.batch };
  const retry = { ...D.retry, ...g.retry, ...d.retry };
  const dl = { ...D.dead_letter, ...g.dead_letter, ...d.dead_letter };
  const dlDir = dl.dir === undefined ? path.join(stateDir, 'dead-letter') : path.resolve(stateDir, dl.dir);
  return {
    batch: {
      maxEvents: batch.max_events,
      maxBytes: parseSize(batch.max_bytes),
      maxWaitMs: parseDuration(batch.max_wait),
    },
    retry: {
      initialDelayMs: parseDuration(retry.initial_delay),
      maxDelayMs: parseDuration(retry.max_delay),
      maxElapsedMs: parseDuration(retry.max_elapsed),
    },
    buffer: resolveBuffer(d, parsed, stateDir, name, diagnostics),
    concurrency: d.concurrency ?? g.concurrency ?? D.concurrency,
    deadLetter: {
      dir: path.join(dlDir, name),
      maxFileBytes: parseSize(dl.max_file_bytes),
      maxTotalBytes: parseSize(dl.max_total_bytes),
      maxFiles: dl.max_files,
      appendToNewest: true,
    },
    timeoutMs: parseDuration(d.timeout ?? g.timeout ?? D.timeout),
  };
}

function resolveDestination(
  name: string,
  d: DestinationConfig,
  parsed: ParsedConfig,
  stateDir: string,
  diagnostics: Diagnostic[],
  scope: TemplateScope,
): ResolvedDestination {
  const delivery = resolveDelivery(d, parsed, stateDir, name, diagnostics);
  const at: ConfigPath = ['destinations', name];
  const shape = resolveShape(d, parsed, at, scope, diagnostics);
  const template = (source: string | undefined, key: ConfigPath): Template | undefined => {
    if (source === undefined) return undefined;
    try {
      const t = Template.parse(source);
      checkTemplate(t, [...at, ...key], scope, diagnostics);
      if (t.placeholders.some((p) => 'match' in p)) shape.needsCaptures = true;
      return t;
    } catch (e) {
      if (!(e instanceof TemplateSyntaxError)) throw e;
      diagnostics.push({
        severity: 'error',
        code: 'KLR_CONFIG_TEMPLATE',
        path: [...at, ...key],
        message: `invalid template: ${e.message}`,
      });
      return undefined;
    }
  };
  if (d.type === 'sns') {
    const arnRegion = d.topic_arn.split(':')[3];
    const fifo = d.topic_arn.endsWith('.fifo');
    if (!fifo && (d.message_group_id !== undefined || d.message_deduplication_id !== undefined)) {
      diagnostics.push({
        severity: 'error',
        code: 'KLR_CONFIG_CONFLICT',
        path: [...at, d.message_group_id !== undefined ? 'message_group_id' : 'message_deduplication_id'],
        message: 'only FIFO topics (ARN ending in .fifo) take message_group_id / message_deduplication_id',
      });
    }
    // PublishBatch takes at most 10 entries and 256 KiB per call.
    const batch = {
      ...delivery.batch,
      maxEvents: Math.min(delivery.batch.maxEvents, SNS_MAX_BATCH_ENTRIES),
      maxBytes: Math.min(delivery.batch.maxBytes, SNS_MAX_BATCH_BYTES),
    };
    return {
      type: 'sns',
      name,
      topicArn: d.topic_arn,
      region: d.region ?? arnRegion,
      endpoint: d.endpoint,
      fifo,
      subject: template(d.subject, ['subject']),
      messageAttributes: Object.entries(d.message_attributes ?? {}).flatMap(([k, v]) => {
        const typed = typeof v === 'string' ? { value: v, type: 'String' as const } : v;
        const t = template(
          typed.value,
          typeof v === 'string' ? ['message_attributes', k] : ['message_attributes', k, 'value'],
        );
        return t ? [[k, t, typed.type] as const] : [];
      }),
      messageGroupId: template(d.message_group_id, ['message_group_id']),
      messageDeduplicationId: template(d.message_deduplication_id, ['message_deduplication_id']),
      shape,
      delivery: { ...delivery, batch },
    };
  }
  return {
    type: 'webhook',
    name,
    url: d.url,
    method: d.method,
    headers: Object.fromEntries(Object.entries(d.headers ?? {}).filter(([, v]) => !hasPlaceholder(v))),
    headerTemplates: Object.entries(d.headers ?? {}).flatMap(([k, v]) => {
      const t = hasPlaceholder(v) ? template(v, ['headers', k]) : undefined;
      return t ? [[k, t] as const] : [];
    }),
    encoding: d.encoding,
    gzip: d.gzip,
    signing: d.signing,
    shape,
    delivery,
  };
}

/** A header value with a {placeholder} (a literal brace is written "{{"). */
function hasPlaceholder(value: string): boolean {
  return /\{(?!\{)/.test(value.replaceAll('{{', ''));
}

function resolveSource(name: string, s: SourceConfig, stateDir: string, base: string): ResolvedSource {
  const deadLetter: DeadLetterSettings = {
    dir: path.join(stateDir, 'dead-letter', `source-${name}`),
    maxFileBytes: parseSize(DEFAULT_DELIVERY.dead_letter.max_file_bytes),
    maxTotalBytes: parseSize(DEFAULT_DELIVERY.dead_letter.max_total_bytes),
    maxFiles: undefined,
    appendToNewest: true,
  };
  if (s.type === 'kong_admin') return { ...resolveKongAdminSource(name, s), deadLetter };
  if (s.type === 'file') {
    return {
      type: 'file',
      name,
      paths: s.paths.map((p) => path.resolve(base, p)),
      startAt: s.start_at,
      rotateWaitMs: parseDuration(s.rotate_wait),
      maxLineBytes: parseSize(s.max_line_bytes),
      pollIntervalMs: parseDuration(s.poll_interval),
      followSymlinks: s.follow_symlinks,
      deadLetter,
    };
  }
  return {
    type: 'http',
    name,
    listen: s.listen,
    path: s.path,
    auth: { bearer: s.auth.bearer, basic: s.auth.basic, none: s.auth.none === true },
    maxBodyBytes: parseSize(s.max_body_bytes),
    maxEntryBytes: parseSize(s.max_entry_bytes),
    maxInflightBodyBytes:
      s.max_inflight_body_bytes === undefined
        ? defaultMaxInflightBodyBytes(parseSize(s.max_body_bytes))
        : parseSize(s.max_inflight_body_bytes),
    ack: s.ack,
    ackTimeoutMs: parseDuration(s.ack_timeout),
    invalid: s.invalid,
    requestTimeoutMs: parseDuration(s.request_timeout),
    headersTimeoutMs: parseDuration(s.headers_timeout),
    keepAliveTimeoutMs: parseDuration(s.keep_alive_timeout),
    maxConnectionsPerClient: s.max_connections_per_client,
    retryAfterSeconds: Math.max(1, Math.ceil(parseDuration(s.retry_after) / 1000)),
    deadLetter,
  };
}

function deepFreeze<T>(value: T): T {
  if (
    value !== null &&
    typeof value === 'object' &&
    !Object.isFrozen(value) &&
    !(value instanceof RuleRegex) &&
    !(value instanceof Map) &&
    !(value instanceof Set) &&
    !(value instanceof Template)
  ) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
