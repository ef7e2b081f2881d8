/** The `kong_admin:` block and `type: kong_admin` sources, resolved (durations in ms, paths absolute). */
import path from 'node:path';
import type { KongAdminBlockConfig, KongAdminSourceConfig } from './kong-admin-schema.ts';
import { parseDuration } from './units.ts';

export interface KongAdminSettings {
  /** Base URL without a trailing slash. */
  readonly url: string;
  readonly token: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly caFile: string | undefined;
  readonly insecureSkipVerify: boolean;
  readonly timeoutMs: number;
  readonly pollIntervalMs: number;
}

export interface KongAdminSourceSettings {
  readonly type: 'kong_admin';
  readonly name: string;
  readonly entities: readonly string[];
  /** Workspace names to watch; null: all. */
  readonly workspaces: readonly string[] | null;
  readonly emitExisting: boolean;
}

export function resolveKongAdmin(block: KongAdminBlockConfig | undefined, base: string): KongAdminSettings | null {
  if (block === undefined) return null;
  return {
    url: block.url.replace(/\/+$/, ''),
    token: block.token === '' ? undefined : block.token,
    headers: block.headers ?? {},
    caFile: block.ca_file === undefined ? undefined : path.resolve(base, block.ca_file),
    insecureSkipVerify: block.insecure_skip_verify,
    timeoutMs: parseDuration(block.timeout),
    pollIntervalMs: parseDuration(block.poll_interval),
  };
}

export function resolveKongAdminSource(name: string, s: KongAdminSourceConfig): KongAdminSourceSettings {
  return {
    type: 'kong_admin',
    name,
    entities: [...new Set(s.entities)],
    workspaces: s.workspaces ?? null,
    emitExisting: s.emit_existing,
  };
}
