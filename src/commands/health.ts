/**
 * `health -c FILE [--ready]`: ask the running relay's admin listener (its address read from the
 * config) for /healthz (or /readyz): exit 0 when it answers 200, 1 otherwise. For container
 * HEALTHCHECKs and scripts, so the admin address is written in one place only.
 */
import { formatDiagnostic } from '../config/diagnostics.ts';
import { loadConfigFile } from '../config/load.ts';
import { adminGet, bodyText, endpointOfListen } from './admin-endpoint.ts';
import { EXIT_INVALID_CONFIG } from './validate.ts';

export const EXIT_UNHEALTHY = 1;

export interface HealthOptions {
  readonly ready: boolean;
  readonly timeoutMs: number;
}

export async function healthCommand(file: string, options: HealthOptions): Promise<number> {
  const { config, diagnostics } = loadConfigFile(file, process.env, { unsetVariables: 'warning' });
  if (config === null) {
    for (const d of diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
    return EXIT_INVALID_CONFIG;
  }
  if (config.admin === null) {
    process.stderr.write(`${file}: admin: false: there is no admin listener to ask\n`);
    return EXIT_INVALID_CONFIG;
  }
  const path = options.ready ? '/readyz' : '/healthz';
  const endpoint = endpointOfListen(config.admin.listen);
  const { label } = endpoint;
  try {
    const res = await adminGet(endpoint, path, { timeoutMs: options.timeoutMs });
    const status = res.statusCode ?? 0;
    const body = await bodyText(res);
    const ok = status === 200;
    (ok ? process.stdout : process.stderr).write(`${label}${path}: ${status} ${body.trim()}\n`);
    return ok ? 0 : EXIT_UNHEALTHY;
  } catch (e) {
    process.stderr.write(`${label}${path}: ${(e as Error).message}\n`);
    return EXIT_UNHEALTHY;
  }
}
