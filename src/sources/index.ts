/** Build the source a config asks for. */
import type { ResolvedSource } from '../config/resolve.ts';
import { seedCounts } from '../telemetry/metrics.ts';
import { INVALID_LINE_REASONS } from './file/chunk-reader.ts';
import { FileSource } from './file/file-source.ts';
import { HttpSource } from './http/http-source.ts';
import { INVALID_REASONS } from './http/intake.ts';
import { KongAdminSource } from './kong-admin/kong-admin-source.ts';
import type { Source, SourceContext } from './source.ts';

export function createSource(config: ResolvedSource, context: SourceContext): Source {
  if (config.type === 'kong_admin') {
    // resolveConfig refuses a kong_admin source without the kong_admin: block.
    if (!context.kongAdmin) throw new Error(`source ${config.name}: no kong_admin: block`);
    return new KongAdminSource(config, context, context.kongAdmin);
  }
  // Series for every reason a source can count exist at 0 from the start (alerts on increase()).
  if (config.type === 'file') {
    seedCounts(context.stats.invalid, INVALID_LINE_REASONS);
    return new FileSource(config, context);
  }
  seedCounts(context.stats.invalid, INVALID_REASONS);
  seedCounts(context.stats.httpRefused, ['max_inflight_body_bytes']);
  return new HttpSource(config, context);
}
