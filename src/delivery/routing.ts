/** Build the decode + route stages for a resolved config. */
import type { ResolvedConfig } from '../config/resolve.ts';
import type { JsonPath } from '../event/json-scan.ts';
import { EventDecoder } from '../event/kong-event.ts';
import { Router } from '../route/router.ts';

export interface Routing {
  readonly decoder: EventDecoder;
  readonly router: Router;
}

/** `ruleMatches`: rule name → count, bumped on every match (metrics). */
export function buildRouting(config: ResolvedConfig, ruleMatches?: Record<string, number>): Routing {
  const templatePaths: JsonPath[] = [];
  for (const d of config.destinations) {
    if (d.type !== 'sns') continue;
    for (const t of [d.subject, d.messageGroupId, d.messageDeduplicationId, ...d.messageAttributes.map(([, v]) => v)]) {
      if (t !== undefined) templatePaths.push(...t.paths);
    }
  }
  const decoder = new EventDecoder({
    workspaceNames: config.workspaceNames,
    headers: config.ruleHeaders,
    paths: templatePaths,
  });
  return { decoder, router: new Router(config.routing, ruleMatches) };
}
