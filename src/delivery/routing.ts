/** Build the decode + route stages for a resolved config. */
import type { ResolvedConfig } from '../config/resolve.ts';
import type { JsonPath } from '../event/json-scan.ts';
import { EventDecoder, type WorkspaceLookup } from '../event/kong-event.ts';
import { layeredLookup } from '../kong-admin/workspace-directory.ts';
import { Router } from '../route/router.ts';
import { shapePaths } from '../shape/shaper.ts';

export interface Routing {
  readonly decoder: EventDecoder;
  readonly router: Router;
}

/**
 * `ruleMatches`: rule name → count, bumped on every match (metrics). `liveWorkspaces`: names read
 * from the Kong Admin API, used for ids the config does not map.
 */
export function buildRouting(
  config: ResolvedConfig,
  ruleMatches?: Map<string, number>,
  liveWorkspaces?: WorkspaceLookup,
): Routing {
  const templatePaths: JsonPath[] = [];
  for (const d of config.destinations) {
    templatePaths.push(...shapePaths(d.shape));
    if (d.type !== 'sns') {
      for (const [, t] of d.headerTemplates) templatePaths.push(...t.paths);
      continue;
    }
    for (const t of [d.subject, d.messageGroupId, d.messageDeduplicationId, ...d.messageAttributes.map(([, v]) => v)]) {
      if (t !== undefined) templatePaths.push(...t.paths);
    }
  }
  const decoder = new EventDecoder({
    workspaceNames: layeredLookup(config.workspaceNames, liveWorkspaces),
    headers: config.ruleHeaders,
    paths: templatePaths,
  });
  return { decoder, router: new Router(config.routing, ruleMatches) };
}
