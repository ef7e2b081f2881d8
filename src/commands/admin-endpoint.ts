/**
 * Where the client commands (`health`, `top`, `tap`) reach a running relay's admin listener:
 * `--admin URL`, or the `admin.listen` of a config file. A wildcard listen address is reached on
 * loopback.
 */
import { type IncomingMessage, request } from 'node:http';
import { formatDiagnostic } from '../config/diagnostics.ts';
import { loadConfigFile } from '../config/load.ts';
import { parseListen } from '../net/listen.ts';

/** Options for node:http's request(): a TCP host and port, or a unix socket. */
export type AdminEndpoint =
  | { readonly label: string; readonly host: string; readonly port: number }
  | { readonly label: string; readonly socketPath: string };

/** The endpoint of an `admin.listen` address. */
export function endpointOfListen(listen: string): AdminEndpoint {
  const target = parseListen(listen);
  if (target.kind === 'unix') return { label: `unix:${target.path}`, socketPath: target.path };
  const host = connectHost(target.host);
  return { label: `${host.includes(':') ? `[${host}]` : host}:${target.port}`, host, port: target.port };
}

/** The endpoint from `--admin URL` or `-c FILE`, or an error message. */
export function adminEndpoint(options: { readonly admin?: string; readonly config?: string }): AdminEndpoint | string {
  if (options.admin !== undefined) {
    let url: URL;
    try {
      url = new URL(options.admin);
    } catch {
      return `--admin ${options.admin}: expected a URL such as http://127.0.0.1:9877`;
    }
    if (url.protocol !== 'http:') return `--admin ${options.admin}: only http:// is served`;
    const host = url.hostname.replace(/^\[|\]$/g, '');
    return { label: url.host, host, port: Number(url.port || 80) };
  }
  if (options.config === undefined) return 'give --admin URL or -c FILE';
  const { config, diagnostics } = loadConfigFile(options.config, process.env, { unsetVariables: 'warning' });
  if (config === null) return diagnostics.map(formatDiagnostic).join('\n');
  if (config.admin === null) return `${options.config} turns the admin listener off (admin: false)`;
  return endpointOfListen(config.admin.listen);
}

export interface AdminGetOptions {
  /** admin.token, sent as a Bearer token. */
  readonly token?: string;
  readonly signal?: AbortSignal;
  /** Fail when the listener stays silent this long. */
  readonly timeoutMs?: number;
}

/** GET `path` from the admin listener: the response, as soon as its head arrives. */
export function adminGet(
  endpoint: AdminEndpoint,
  path: string,
  options: AdminGetOptions = {},
): Promise<IncomingMessage> {
  const { label: _, ...where } = endpoint;
  const { token, signal, timeoutMs } = options;
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  return new Promise((resolve, reject) => {
    const req = request({ ...where, path, method: 'GET', headers, signal, timeout: timeoutMs }, resolve);
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** The start of a response's body as text (at most about 4 KiB: a message, not data). */
export async function bodyText(res: IncomingMessage): Promise<string> {
  let body = '';
  res.setEncoding('utf8');
  for await (const chunk of res) if (body.length < 4096) body += chunk;
  return body;
}

function connectHost(host: string | undefined): string {
  if (host === undefined || host === '' || host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}
