/**
 * The config of what leaves the relay (redaction, fields, payload templates, dedupe, signing,
 * typed SNS attributes), as zod schemas that config/schema.ts puts in place.
 */
import { z } from 'zod';
import { durationUpTo } from './duration-schema.ts';

/** Request/response headers masked by default (compared case-insensitively). */
export const DEFAULT_REDACT_HEADERS: readonly string[] = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'apikey',
];
/** Query parameters masked by default, in request.querystring and in the query of request.uri, request.url and upstream_uri. */
export const DEFAULT_REDACT_QUERY: readonly string[] = [
  'apikey',
  'api_key',
  'access_token',
  'token',
  'client_secret',
  'password',
  'sig',
  'signature',
];
export const DEFAULT_REPLACEMENT = '[REDACTED]';

const fieldPath = z
  .string()
  .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, { error: 'expected a field path such as request.headers.host' });

const redactSettings = z.strictObject({
  headers: z.array(z.string().min(1)).optional().describe('More header names to mask (case-insensitive).'),
  query: z.array(z.string().min(1)).optional().describe('More query parameter names to mask.'),
  paths: z.array(fieldPath).optional().describe('JSON paths whose whole value is masked, e.g. request.body.card.'),
  replacement: z.string().optional().describe(`What a masked value becomes (default "${DEFAULT_REPLACEMENT}").`),
});

/** `redact:` at the top level (applies to every destination) or in a destination (extends the top level). */
export const redact = z
  .union([z.boolean(), redactSettings])
  .describe(
    'Credential masking, on by default: true (the defaults), false (off: raw logs), or extra headers/query/paths and a replacement.',
  );

export const customFields = z
  .array(z.string().regex(/^[A-Za-z0-9_-]+$/, { error: 'expected a top-level field name' }))
  .describe('Top-level keys that Kong custom_fields_by_lua adds to entries; templates may refer to them.');

/** Per-destination keys shared by SNS and webhook destinations. */
export const shapeSettings = {
  redact: redact.optional(),
  fields: z
    .array(fieldPath)
    .min(1)
    .optional()
    .describe('Send only these paths of the entry, e.g. [request.method, response.status].'),
  payload: z
    .json()
    .optional()
    .describe(
      'Template of the message body (YAML → JSON): strings may hold {field.path}, {match.NAME}, typed {x:number|boolean|json}.',
    ),
  unique: z
    .array(
      z
        .string()
        .min(1)
        .regex(/^[^{}]+$/, 'a field path such as consumer.username or match.id, without {braces}'),
    )
    .min(1)
    .optional()
    .describe('Dedupe: send the first entry of each combination of these fields per snooze window.'),
  snooze: durationUpTo('7d').optional().describe('Dedupe window for unique (default 60s).'),
  max_keys: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe('Dedupe: combinations remembered at most (default 100000; the oldest go first).'),
};

export const signing = z.strictObject({
  scheme: z
    .enum(['standard', 'kong'])
    .default('standard')
    .describe(
      'standard: Standard Webhooks (webhook-signature); kong: X-Kong-Signature: sha1=<hex HMAC-SHA1 of the body sent>.',
    ),
  secret: z.string().min(1).describe('Standard Webhooks: "whsec_<base64>" or raw text; kong: the shared secret.'),
});

export const messageAttribute = z.union([
  z.string(),
  z.strictObject({
    value: z.string().describe('Template of the value.'),
    type: z.enum(['String', 'Number', 'String.Array']).default('String'),
  }),
]);
