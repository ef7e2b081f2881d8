/** `validate -c FILE`: a one-line summary and exit 0, or every problem located and exit 2. */
import { formatDiagnostic } from '../config/diagnostics.ts';
import { loadConfigFile } from '../config/load.ts';
import { snsCredentialProblems } from '../sinks/sns/credentials.ts';

export const EXIT_INVALID_CONFIG = 2;

export async function validateCommand(file: string): Promise<number> {
  // Secrets may be unset where the config is checked (a CI job, a laptop): a warning, not an error.
  const { config, diagnostics } = loadConfigFile(file, process.env, { unsetVariables: 'warning' });
  for (const d of diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
  let warnings = diagnostics.filter((d) => d.severity === 'warning').length;
  if (config === null) {
    const errors = diagnostics.length - warnings;
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
      `${warnings > 0 ? `, ${count(warnings, 'warning')}` : ''}\n`,
  );
  return 0;
}

function plural(n: number): string {
  return n === 1 ? '' : 's';
}
