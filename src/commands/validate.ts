/** `validate -c FILE`: a one-line summary and exit 0, or every problem located and exit 2. */
import { formatDiagnostic } from '../config/diagnostics.ts';
import { loadConfigFile } from '../config/load.ts';

export const EXIT_INVALID_CONFIG = 2;

export function validateCommand(file: string): number {
  const { config, diagnostics } = loadConfigFile(file);
  for (const d of diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
  const warnings = diagnostics.filter((d) => d.severity === 'warning').length;
  if (config === null) {
    const errors = diagnostics.length - warnings;
    process.stderr.write(
      `${file}: invalid: ${errors} error${plural(errors)}${warnings > 0 ? `, ${warnings} warning${plural(warnings)}` : ''}\n`,
    );
    return EXIT_INVALID_CONFIG;
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
