/**
 * The configuration as operators write it: one zod schema is the source of truth for
 * validation, the TypeScript types and `config/schema.json` (editor completion).
 */
import { z } from 'zod';
import { customFields, messageAttribute, redact, shapeSettings, signing } from './shape-schema.ts';
import { durationUpTo as duration } from './duration-schema.ts';
import { kongAdminBlock, kongAdminSource } from './kong-admin-schema.ts';
import { configTests } from './tests-schema.ts';
import { SIZE_PATTERN } from './units.ts';

const size = z
  .string()
  .regex(SIZE_PATTERN, { error: 'expected a size such as "512KiB", "1MiB", "10MB" or a byte count "4096"' })
  .describe('A size: a number with B, KB, KiB, MB, MiB, GB or GiB, e.g. "256KiB".');

const name = z.string().min(1);
const nameList = z.array(name).min(1, { error: 'expected at least one destination name' });
const stringOrList = z.union([name, z.array(name).min(1)]);

/** A template such as "{request.method}" or "ws-{workspace}". */
const template = z
  .string()
  .describe('Template: literal text with {field.path} placeholders ({workspace}, {path}, {request.method}, …).');

const listen = z
  .string()
  .regex(/^(unix:\/.+|\[[0-9a-fA-F:.]+\]:\d{1,5}|[^:\s]+:\d{1,5}|:?\d{1,5})$/, {
    error: 'expected "HOST:PORT", "[IPv6]:PORT", ":PORT" or "unix:/path/to.sock"',
  })
  .describe('Where to listen: "127.0.0.1:9876", "[::1]:9876" or "unix:/run/kong-log-relay/http.sock".');

// ── sources ──────────────────────────────────────────────────────────────────

const fileSource = z.strictObject({
  type: z.literal('file'),
  paths: z.array(z.string().min(1)).min(1).describe('Glob patterns of Kong file-log files.'),
  start_at: z
    .enum(['end', 'beginning'])
    .default('end')
    .describe('Where to start in files present at the first start, when there is no checkpoint.'),
  rotate_wait: duration('7d')
    .default('30s')
    .describe(
      'Keep a rotated or deleted file open until it has been idle this long; a rotated one is then still looked at by name while it exists.',
    ),
  max_line_bytes: size.default('1MiB').describe('Longer lines are dead-lettered.'),
  poll_interval: duration('1h')
    .default('250ms')
    .describe('How often open files are checked for growth besides file-system events.'),
  follow_symlinks: z
    .boolean()
    .default(false)
    .describe('Walk into symlinked directories (each real directory once). Symlinks to files are always followed.'),
});

const basicAuth = z.strictObject({ user: z.string().min(1), password: z.string().min(1) });
const httpAuth = z
  .strictObject({
    bearer: z.string().min(1).optional(),
    basic: basicAuth.optional(),
    none: z.literal(true).optional().describe('Accept unauthenticated requests; must be said explicitly.'),
  })
  .describe(
    'Credentials Kong must present: a bearer token and/or basic auth (userinfo of http_endpoint), or none: true.',
  );

const httpSource = z.strictObject({
  type: z.literal('http'),
  listen,
  path: z.string().startsWith('/', { error: 'expected a path starting with "/"' }).default('/'),
  auth: httpAuth,
  max_body_bytes: size.default('10MiB'),
  // No zod default: the default depends on max_body_bytes (see defaultMaxInflightBodyBytes).
  max_inflight_body_bytes: size
    .optional()
    .describe(
      'Request body bytes (after gunzip) held at once while being received and taken; a request that would go over is answered 503 (Kong retries it). At least max_body_bytes. Default: 64MiB, or 4 × max_body_bytes when that is more.',
    ),
  max_entry_bytes: size.default('1MiB'),
  ack: z
    .enum(['accepted', 'delivered'])
    .default('accepted')
    .describe('accepted: answer 2xx once buffered; delivered: once every destination has delivered or dead-lettered.'),
  ack_timeout: duration('1h')
    .default('50s')
    .describe('With ack: delivered, answer 503 (Kong retries) when delivery takes longer.'),
  invalid: z
    .enum(['dead_letter', 'reject'])
    .default('dead_letter')
    .describe(
      'dead_letter: take the good entries, dead-letter the bad ones, answer 2xx with a report; reject: answer 400.',
    ),
  request_timeout: duration('1h').default('60s').describe('Whole-request limit against slow clients.'),
  headers_timeout: duration('10m').default('10s'),
  keep_alive_timeout: duration('1h').default('65s'),
  max_connections_per_client: z
    .number()
    .int()
    .min(1)
    .max(1024)
    .default(256)
    .describe(
      'Open connections from one client address at most (of 1024 in all). At either cap the oldest connection that has not yet sent valid credentials is closed to make room, else the idle one (valid credentials, no request in progress) idle longest.',
    ),
  retry_after: duration('1h')
    .default('1s')
    .describe('Retry-After sent with 429 under backpressure and with 503 (shutting down, busy).'),
});

const source = z.discriminatedUnion('type', [fileSource, httpSource, kongAdminSource]);

// ── routing ──────────────────────────────────────────────────────────────────

const statusPattern = z.union([
  z
    .number({ error: 'expected a status like 200, "2xx" or "500-599"' })
    .int()
    .min(100, { error: 'expected an HTTP status from 100 to 599' })
    .max(599, { error: 'expected an HTTP status from 100 to 599' }),
  z
    .string()
    .regex(/^([1-5]xx|[1-5]\d\d|[1-5]\d\d-[1-5]\d\d)$/i, { error: 'expected a status like 200, "2xx" or "500-599"' }),
]);

const match = z.strictObject({
  methods: z
    .array(z.string().regex(/^[A-Za-z]+$/))
    .min(1)
    .optional()
    .describe('Request methods, e.g. [PUT, PATCH].'),
  path: z.string().optional().describe('Regex against the request path (request.uri without the query string).'),
  upstream_path: z.string().optional().describe('Regex against upstream_uri without the query string.'),
  status: z.array(statusPattern).min(1).optional().describe('Response statuses: 200, "2xx", "500-599".'),
  workspace: stringOrList.optional().describe('Workspace name(s) (ids are resolved through workspaces:).'),
  service: stringOrList.optional().describe('Service name(s) or id(s).'),
  route: stringOrList.optional().describe('Route name(s) or id(s).'),
  consumer: stringOrList.optional().describe('Consumer username(s), custom_id(s) or id(s).'),
  host: z.string().optional().describe('Regex against the Host header, without the port.'),
  headers: z
    .record(z.string(), z.string())
    .optional()
    .describe('Request header name → regex; any value of a repeated header may match.'),
  entity: stringOrList
    .optional()
    .describe('Entity change events (kong_admin sources): the Admin API collection, e.g. [routes, services].'),
  operation: z
    .union([z.enum(['create', 'update', 'delete']), z.array(z.enum(['create', 'update', 'delete'])).min(1)])
    .optional()
    .describe('Entity change events (kong_admin sources): create, update and/or delete.'),
});

const rule = z.strictObject({
  name,
  when: match.optional(),
  unless: match.optional(),
  to: nameList,
});

const workspace = z.strictObject({
  id: z
    .union([z.string().min(1), z.array(z.string().min(1))])
    .optional()
    .describe('Workspace id(s), mapped to this name.'),
  to: z.array(name).default([]),
});

// ── destinations ─────────────────────────────────────────────────────────────

const batch = z.strictObject({
  max_events: z.number().int().min(1).max(100_000).optional(),
  max_bytes: size.optional(),
  max_wait: duration('1h').optional(),
});
const retry = z.strictObject({
  initial_delay: duration('1h').optional(),
  max_delay: duration('1d').optional(),
  max_elapsed: duration('7d').optional(),
});
const buffer = z.strictObject({
  type: z
    .enum(['memory', 'disk'])
    .optional()
    .describe('memory (default) or disk: segment files under state_dir/buffer/<destination> that survive kill -9.'),
  max_events: z.number().int().min(1).optional().describe('Memory buffers only.'),
  max_bytes: size.optional().describe('16MiB for a memory buffer, 1GiB for a disk buffer unless set.'),
  when_full: z
    .enum(['block', 'drop_newest', 'drop_oldest'])
    .optional()
    .describe(
      'block: pause sources (file reading stops, HTTP answers 429); drop_*: count and drop (disk: block or drop_newest).',
    ),
  fsync: z
    .enum(['interval', 'always'])
    .optional()
    .describe('Disk buffers: interval (default) syncs every fsync_interval; always syncs before acknowledging.'),
  fsync_interval: duration('1h').optional().describe('Disk buffers, fsync: interval (default 500ms).'),
});
const deadLetter = z.strictObject({
  dir: z.string().min(1).optional().describe('Directory (relative to state_dir); one folder per destination inside.'),
  max_file_bytes: size.optional().describe('A file is closed and a new one started past this size. Default 100MiB.'),
  max_total_bytes: size
    .optional()
    .describe(
      'Retention: past this many bytes in all files of a destination, the oldest whole files are deleted (counted in dead_letters_discarded_total, logged as an error). Default 1GiB.',
    ),
  max_files: z.number().int().min(1).optional().describe('Optional retention by file count too. Default: none.'),
});

const deliverySettings = {
  batch: batch.optional(),
  retry: retry.optional(),
  buffer: buffer.optional(),
  concurrency: z.number().int().min(1).max(256).optional(),
  dead_letter: deadLetter.optional(),
  timeout: duration('1h').optional().describe('Per request.'),
};

const snsDestination = z.strictObject({
  type: z.literal('sns'),
  topic_arn: z.string().regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/, {
    error: 'expected an SNS topic ARN: arn:aws:sns:REGION:ACCOUNT:NAME',
  }),
  region: z.string().optional().describe('Default: the region of the topic ARN.'),
  endpoint: z.string().url().optional().describe('Endpoint override (LocalStack, emulators).'),
  subject: template.optional(),
  message_attributes: z
    .record(z.string().regex(/^[A-Za-z0-9_.-]{1,256}$/), messageAttribute)
    .optional()
    .describe(
      'Message attributes for subscription filter policies: a template (String), or { value: template, type: String | Number | String.Array }.',
    ),
  message_group_id: template.optional().describe('FIFO topics: group id template (default "kong-log-relay").'),
  message_deduplication_id: template
    .optional()
    .describe('FIFO topics: deduplication id template (default: SHA-256 of the unique values, else of the message).'),
  ...shapeSettings,
  ...deliverySettings,
});

const webhookDestination = z.strictObject({
  type: z.literal('webhook'),
  url: z
    .string()
    .url()
    .regex(/^https?:\/\//, { error: 'expected an http:// or https:// URL' }),
  method: z.enum(['POST', 'PUT']).default('POST'),
  headers: z
    .record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { error: 'expected an HTTP header name' }), z.string())
    .optional(),
  encoding: z
    .enum(['json', 'json_array', 'ndjson'])
    .default('json_array')
    .describe('json: one entry per request; json_array: [e1,e2,…]; ndjson: one entry per line.'),
  gzip: z.boolean().default(false),
  signing: signing.optional(),
  ...shapeSettings,
  ...deliverySettings,
});

const destination = z.discriminatedUnion('type', [snsDestination, webhookDestination]);

// ── top level ────────────────────────────────────────────────────────────────

export const configSchema = z.strictObject({
  sources: z.record(name, source).refine((s) => Object.keys(s).length > 0, { error: 'expected at least one source' }),
  workspaces: z.record(name, workspace).default({}),
  rules: z.array(rule).default([]),
  destinations: z
    .record(name, destination)
    .refine((d) => Object.keys(d).length > 0, { error: 'expected at least one destination' }),
  defaults: z.strictObject(deliverySettings).default({}),
  kong_admin: kongAdminBlock.optional(),
  redact: redact.default(true),
  custom_fields: customFields.default([]),
  state_dir: z.string().min(1).default('/var/lib/kong-log-relay'),
  shutdown_timeout: duration('1h')
    .default('30s')
    .describe('How long SIGTERM waits for buffers to drain before dead-lettering the rest.'),
  admin: z
    .union([
      z.strictObject({
        listen,
        token: z
          .string()
          .min(16, { error: 'expected a token of at least 16 characters' })
          .optional()
          .describe(
            'Bearer token required for everything but /healthz and /readyz. Set it when listening beyond loopback.',
          ),
        max_connections: z
          .number()
          .int()
          .min(1)
          .max(1024)
          .optional()
          .describe('Open admin connections at most (default 64).'),
        idle_timeout: duration('1h')
          .optional()
          .describe('An admin connection idle (nothing received or sent) this long is closed (default 10s).'),
      }),
      z.literal(false),
    ])
    .default({ listen: '127.0.0.1:9877' }),
  log: z
    .strictObject({
      level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
      format: z.enum(['json', 'pretty', 'auto']).default('auto').describe('auto: pretty on a TTY, JSON otherwise.'),
    })
    .default({ level: 'info', format: 'auto' }),
  heap_growth: z
    .enum(['bounded', 'v8'])
    .default('bounded')
    .describe(
      'bounded: `run` keeps V8 garbage near what is live while buffers are full (less memory under overload); v8: V8 decides.',
    ),
  tests: configTests.optional().describe('Config unit tests, run by `kong-log-relay test`.'),
});

export type ParsedConfig = z.output<typeof configSchema>;
export type SourceConfig = z.output<typeof source>;
export type MatchConfig = z.output<typeof match>;
export type StatusPattern = z.output<typeof statusPattern>;
export type DestinationConfig = z.output<typeof destination>;

/** JSON Schema of the YAML as written (config/schema.json). */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    ...schema,
    title: 'kong-log-relay configuration',
    $id: 'https://github.com/kong-log-relay/kong-log-relay/config/schema.json',
  };
}
