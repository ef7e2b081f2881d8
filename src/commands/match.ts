/** `match -c FILE [LOGS…|-]`: dry run of routing, one line (or JSON object) per entry. */
import { readFileSync } from 'node:fs';
import { formatDiagnostic } from '../config/diagnostics.ts';
import { loadConfigFile } from '../config/load.ts';
import { isProblem, splitLogFile } from '../event/entries.ts';
import { JsonSyntaxError } from '../event/json-scan.ts';
import { buildRouting } from '../delivery/routing.ts';
import { formatOutgoing, PayloadPreview, type OutgoingMessage } from './match-payload.ts';
import { EXIT_INVALID_CONFIG } from './validate.ts';

export interface MatchOptions {
  readonly json: boolean;
  /** Also show what each destination would send (match --payload). */
  readonly payload?: boolean;
}

export async function matchCommand(
  configFile: string,
  logs: readonly string[],
  options: MatchOptions,
): Promise<number> {
  // A dry run needs no secrets: an unset ${VAR} is a warning (on stderr, so --json output stays clean).
  const { config, diagnostics } = loadConfigFile(configFile, process.env, { unsetVariables: 'warning' });
  for (const d of diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
  if (config === null) return EXIT_INVALID_CONFIG;
  const { decoder, router } = buildRouting(config);
  const preview = options.payload === true ? new PayloadPreview(config, router) : null;
  const inputs = logs.length === 0 ? ['-'] : logs;
  let index = 0;
  const out: string[] = [];
  const flush = (): void => {
    if (out.length > 0) {
      process.stdout.write(out.join(''));
      out.length = 0;
    }
  };
  for (const input of inputs) {
    let text: string;
    try {
      text = input === '-' ? await readStdin() : readFileSync(input, 'utf8');
    } catch (e) {
      process.stderr.write(`kong-log-relay match: cannot read ${input}: ${(e as Error).message}\n`);
      return 1;
    }
    for (const entry of splitLogFile(text)) {
      const i = index++;
      const event = isProblem(entry) ? entry.error : decoder.decode(entry.raw);
      if (typeof event === 'string' || event instanceof JsonSyntaxError) {
        const error = typeof event === 'string' ? event : `invalid entry: ${event.message}`;
        out.push(options.json ? `${JSON.stringify({ index: i, error })}\n` : `#${i} error: ${error}\n`);
        continue;
      }
      const why = router.explain(event);
      const sent: Record<string, OutgoingMessage> = {};
      if (preview !== null) for (const d of why.destinations) sent[d] = await preview.message(event, d);
      if (options.json) {
        out.push(
          `${JSON.stringify({
            index: i,
            destinations: [...why.destinations].sort(),
            rules: why.rules,
            workspace: why.workspace,
            request: {
              method: event.method ?? null,
              path: event.path ?? null,
              status: event.status ?? null,
              id: event.requestId ?? null,
            },
            reasons: why.reasons,
            ...(preview === null ? {} : { payloads: sent }),
          })}\n`,
        );
      } else {
        const what = event.isHttp
          ? `${event.method ?? '?'} ${event.path ?? '?'} ${event.status ?? '?'}`
          : 'stream entry';
        const to =
          why.destinations.length === 0
            ? 'no destination'
            : why.destinations.map((d) => `${d} (${why.reasons[d].join(', ')})`).join(', ');
        const misses = Object.entries(why.misses).map(
          ([rule, field]) => `${rule}: ${field === 'unless' ? 'excluded by unless' : `${field} differs`}`,
        );
        out.push(
          `#${i} ${what} workspace=${why.workspace ?? '-'} → ${to}${misses.length > 0 ? `; not matched: ${misses.join('; ')}` : ''}\n`,
        );
        for (const [d, m] of Object.entries(sent)) out.push(formatOutgoing(d, m));
      }
      if (out.length >= 256) flush();
    }
  }
  flush();
  return 0;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
