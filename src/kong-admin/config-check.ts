/**
 * The config checked against the live gateway (`validate --kong-admin`, and warnings at start-up):
 * workspaces the config names exist, and the services, routes and consumers rules name exist in
 * the workspaces those rules apply to. Gives diagnostics with config paths; the caller places
 * them in the file (FILE:LINE:COL).
 */
import type { ConfigPath, Diagnostic } from '../config/diagnostics.ts';
import type { ResolvedConfig } from '../config/resolve.ts';
import type { KongAdminClient, KongEntity } from './client.ts';
import type { KongWorkspace } from './workspace-directory.ts';

/** The workspace of Kong OSS, its only one. */
export const OSS_WORKSPACE = 'default';

type Kind = 'service' | 'route' | 'consumer';
const COLLECTION: Readonly<Record<Kind, string>> = { service: 'services', route: 'routes', consumer: 'consumers' };
/** The fields a rule's name may refer to (match.ts: names or ids; consumers also custom_id). */
const KEYS: Readonly<Record<Kind, readonly string[]>> = {
  service: ['name', 'id'],
  route: ['name', 'id'],
  consumer: ['username', 'custom_id', 'id'],
};

/**
 * `workspaces`: what GET /workspaces listed, or 'oss'. `severity`: 'error' for validate
 * --kong-admin, 'warning' at start-up.
 */
export async function checkConfigAgainstKong(
  config: ResolvedConfig,
  client: KongAdminClient,
  workspaces: readonly KongWorkspace[] | 'oss',
  severity: Diagnostic['severity'],
): Promise<Diagnostic[]> {
  const out: Diagnostic[] = [];
  const report = (path: ConfigPath, message: string, atKey = false): void => {
    out.push({ severity, code: 'KLR_CONFIG_KONG_ADMIN', path, message, atKey });
  };
  const oss = workspaces === 'oss';
  const names = oss ? [OSS_WORKSPACE] : workspaces.map((w) => w.name);
  const ids = new Set(oss ? [] : workspaces.map((w) => w.id));
  const known = `${oss ? 'Kong OSS has only' : 'the Admin API lists'}: ${names.join(', ') || '(none)'}`;

  // workspaces: NAME: { id } — the name exists, and so does each id (with this name, where Kong tells).
  for (const name of config.routing.workspaces.keys()) {
    if (!names.includes(name))
      report(['workspaces', name], `workspace "${name}" does not exist in Kong (${known})`, true);
  }
  for (const [id, name] of config.workspaceNames) {
    if (oss) continue;
    const listed = workspaces.find((w) => w.id === id);
    if (!ids.has(id)) report(['workspaces', name, 'id'], `workspace id ${id} does not exist in Kong (${known})`);
    else if (listed !== undefined && listed.name !== name)
      report(['workspaces', name, 'id'], `workspace id ${id} is named "${listed.name}" in Kong, not "${name}"`);
  }

  // Rules: each name or id in service/route/consumer, in the workspaces the rule applies to.
  const cache = new Map<string, Promise<KongEntity[] | null>>();
  const listOf = (ws: string, kind: Kind): Promise<KongEntity[] | null> => {
    const key = `${ws}/${kind}`;
    let p = cache.get(key);
    if (p === undefined) {
      p = client.list(oss ? `/${COLLECTION[kind]}` : `/${encodeURIComponent(ws)}/${COLLECTION[kind]}`);
      cache.set(key, p);
    }
    return p;
  };
  const rules = config.routing.rules;
  for (let i = 0; i < rules.length; i++) {
    for (const block of ['when', 'unless'] as const) {
      const spec = rules[i][block];
      if (spec === undefined) continue;
      const scope = spec.workspace === undefined ? names : [...spec.workspace];
      spec.workspace?.forEach((ws) => {
        if (!names.includes(ws))
          report(
            ['rules', i, block, 'workspace', [...(spec.workspace ?? [])].indexOf(ws)],
            `workspace "${ws}" does not exist in Kong (${known})`,
          );
      });
      const inScope = scope.filter((ws) => names.includes(ws));
      for (const kind of ['service', 'route', 'consumer'] as const) {
        const wanted = spec[kind];
        if (wanted === undefined) continue;
        const present = new Set<string>();
        for (const ws of inScope) {
          for (const e of (await listOf(ws, kind)) ?? [])
            for (const k of KEYS[kind]) if (typeof e[k] === 'string') present.add(e[k] as string);
        }
        [...wanted].forEach((value, j) => {
          if (present.has(value)) return;
          report(
            ['rules', i, block, kind, j],
            `${kind} "${value}" does not exist in Kong in ${inScope.length === 1 ? 'workspace' : 'workspaces'} ${inScope.join(', ') || '(none)'} (looked for its ${KEYS[kind].join(', ')})`,
          );
        });
      }
    }
  }
  return out;
}
