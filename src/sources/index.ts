/** Build the source a config asks for. */
import type { ResolvedSource } from '../config/resolve.ts';
import { FileSource } from './file/file-source.ts';
import { HttpSource } from './http/http-source.ts';
import { KongAdminSource } from './kong-admin/kong-admin-source.ts';
import type { Source, SourceContext } from './source.ts';

export function createSource(config: ResolvedSource, context: SourceContext): Source {
  if (config.type === 'kong_admin') {
    // resolveConfig refuses a kong_admin source without the kong_admin: block.
    if (!context.kongAdmin) throw new Error(`source ${config.name}: no kong_admin: block`);
    return new KongAdminSource(config, context, context.kongAdmin);
  }
  return config.type === 'file' ? new FileSource(config, context) : new HttpSource(config, context);
}
