/**
 * `validate -c FILE [--kong-admin]`: a one-line summary and exit 0, or every problem located and
 * exit 2. With --kong-admin the config is also checked against the live gateway.
 */
import type { Diagnostic } from '../config/diagnostics.ts';
import { formatDiagnostic } from '../config/diagnostics.ts';
import { loadConfigFile, locateDiagnostics } from '../config/load.ts';
import type { ResolvedConfig } from '../config/resolve.ts';
import { KongAdminClient } from '../kong-admin/client.ts';
import { checkConfigAgainstKong } from '../kong-admin/config-check.ts';
import { snsCredentialProblems } from '../sinks/sns/credentials.ts';
import { errorText } from '../util/errors.ts';

export const EXIT_INVALID_CONFIG = 2;

export async function validateCommand(file: string, options: { kongAdmin?: boolean } = {}): Promise<number> {
  // Secrets may be unset where the config is checked (a CI job, a laptop): a warning, not an error.
  const loaded = loadConfigFile(file, process.env, { unsetVariables: 'warning' });
  const { config } = loaded;
  const diagnostics = [...loaded.diagnostics];
  if (config !== null && options.kongAdmin === true) diagnostics.push(...(await checkWithKongAdmin(config, file)));
  for (const d of diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
  let warnings = diagnostics.filter((d) => d.severity === 'warning').length;
  const errors = diagnostics.length - warnings;
  if (config === null || errors > 0) {
    process.stderr.write(
      `${file}: invalid: ${errors} error${plural(errors)}${warnings > 0 ? `, ${warnings} warning${plural(warnings)}` : ''}\n`,
    );
    return EXIT_INVALID_CONFIG;
  }
  // Valid, but would every publish fail? Ask the AWS SDK's credential chain, as `run` does at start.
  for (const problem of await snsCredentialProblems(config.destinations)) {
    process.stderr.write(`${file}: warning: ${problem}\n`);
    warnings++;
  }
  const count = (n: number, what: string): string => `${n} ${what}${plural(n)}`;
  const workspaces = config.routing.workspaces.size + (config.routing.everyEvent.length > 0 ? 1 : 0);
  process.stdout.write(
    `${file}: valid: ${count(config.sources.length, 'source')}, ${count(config.routing.rules.length, 'rule')}, ` +
      `${count(workspaces, 'workspace route')}, ${count(config.destinations.length, 'destination')}` +
      `${warnings > 0 ? `, ${count(warnings, 'warning')}` : ''}` +
      `${options.kongAdmin === true ? ', checked against the Kong Admin API' : ''}\n`,
  );
  return 0;
}

/** Errors for what the config names and the gateway does not have; the Admin API unreachable is one too. */
async function checkWithKongAdmin(config: ResolvedConfig, file: string): Promise<Diagnostic[]> {
  if (config.kongAdmin === null)
    return locateDiagnostics(file, [
      {
        severity: 'error',
        code: 'KLR_CONFIG_KONG_ADMIN',
        path: [],
        message: '--kong-admin needs the kong_admin: block (url, token) to reach the Admin API',
      },
    ]);
  const client = new KongAdminClient(config.kongAdmin);
  try {
    const workspaces = await client.workspaces();
    return locateDiagnostics(file, await checkConfigAgainstKong(config, client, workspaces, 'error'));
  } catch (e) {
    return locateDiagnostics(file, [
      {
        severity: 'error',
        code: 'KLR_CONFIG_KONG_ADMIN',
        path: ['kong_admin', 'url'],
        message: `cannot check against the gateway: ${errorText(e)}`,
      },
    ]);
  } finally {
    await client.close();
  }
}

function plural(n: number): string {
  return n === 1 ? '' : 's';
}
