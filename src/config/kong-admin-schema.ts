/**
 * Config of the Kong Admin API: the top-level `kong_admin:` block (how to reach the node's Admin
 * API) and the `type: kong_admin` source (entity change events). Kept apart from schema.ts so the
 * Admin API's options live in one place.
 */
import { z } from 'zod';
import { durationUpTo as duration } from './duration-schema.ts';

/** Collections polled when a kong_admin source names none (workspaces and rbac/roles only where they exist). */
export const DEFAULT_KONG_ENTITIES = [
  'services',
  'routes',
  'consumers',
  'plugins',
  'upstreams',
  'certificates',
  'workspaces',
  'rbac/roles',
] as const;

export const kongAdminBlock = z
  .strictObject({
    url: z
      .string()
      .url()
      .regex(/^https?:\/\//, { error: 'expected an http:// or https:// URL' })
      .describe('Admin API of the Kong node, e.g. "http://127.0.0.1:8001".'),
    token: z
      .string()
      .optional()
      .describe(
        'RBAC token (Kong Enterprise), sent as Kong-Admin-Token; use "${KONG_ADMIN_TOKEN}" ("${KONG_ADMIN_TOKEN:-}" when optional: empty sends none).',
      ),
    headers: z
      .record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { error: 'expected an HTTP header name' }), z.string())
      .optional()
      .describe('Further request headers (never logged).'),
    ca_file: z.string().min(1).optional().describe('PEM file of the CA that signed the Admin API certificate.'),
    insecure_skip_verify: z.boolean().default(false).describe('Do not verify the Admin API TLS certificate.'),
    timeout: duration('1h').default('10s').describe('Per request.'),
    poll_interval: duration('1h')
      .default('10s')
      .describe('How often workspaces (and, for kong_admin sources, entities) are read again.'),
  })
  .describe('The Kong node Admin API: workspace names, entity change events, validate --kong-admin.');

export const kongAdminSource = z.strictObject({
  type: z.literal('kong_admin'),
  entities: z
    .array(
      z.string().regex(/^[a-z0-9_-]+(\/[a-z0-9_-]+)?$/, {
        error: 'expected an Admin API collection, e.g. "routes" or "rbac/roles"',
      }),
    )
    .min(1)
    .default([...DEFAULT_KONG_ENTITIES])
    .describe(
      'Admin API collections to watch (default: services, routes, consumers, plugins, upstreams, certificates, and workspaces, rbac/roles where they exist); credentials too, e.g. key-auths, basic-auths, jwts, oauth2.',
    ),
  workspaces: z
    .array(z.string().min(1))
    .min(1)
    .optional()
    .describe('Workspace names to watch (default: every workspace).'),
  emit_existing: z
    .boolean()
    .default(false)
    .describe(
      'At the very first start (no snapshot in state_dir): emit a create for every existing entity instead of only recording them.',
    ),
});

export type KongAdminBlockConfig = z.output<typeof kongAdminBlock>;
export type KongAdminSourceConfig = z.output<typeof kongAdminSource>;
