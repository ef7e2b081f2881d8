/** Build the source a config asks for. */
import type { ResolvedSource } from '../config/resolve.ts';
import { FileSource } from './file/file-source.ts';
import { HttpSource } from './http/http-source.ts';
import type { Source, SourceContext } from './source.ts';

export function createSource(config: ResolvedSource, context: SourceContext): Source {
  return config.type === 'file' ? new FileSource(config, context) : new HttpSource(config, context);
}
