/**
 * Can the relay write where it keeps state? `run` checks its state_dir and dead-letter
 * directories before it starts (a relay that cannot checkpoint or dead-letter must not say
 * "running"), and again every few seconds for /readyz.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rm } from 'node:fs/promises';
import path from 'node:path';
import type { ResolvedConfig } from '../config/resolve.ts';
import { errorText } from '../util/errors.ts';

/** A directory the relay writes to, and what it holds. */
export interface StateDirectory {
  readonly dir: string;
  readonly role: string;
}

/** state_dir and every dead-letter directory of the config, each once. */
export function stateDirectories(config: ResolvedConfig): StateDirectory[] {
  const out: StateDirectory[] = [{ dir: config.stateDir, role: 'state_dir' }];
  for (const d of config.destinations)
    out.push({ dir: d.delivery.deadLetter.dir, role: `dead-letter directory of destination ${d.name}` });
  for (const s of config.sources)
    out.push({ dir: s.deadLetter.dir, role: `dead-letter directory of source ${s.name}` });
  const seen = new Set<string>();
  return out.filter((d) => {
    if (seen.has(d.dir)) return false;
    seen.add(d.dir);
    return true;
  });
}

/** Create the directory if needed and write, sync and remove a probe file in it: null when that works. */
export async function writeProblem(dir: string): Promise<string | null> {
  const probe = path.join(dir, `.write-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(dir, { recursive: true });
    const handle = await open(probe, 'wx', 0o600);
    try {
      await handle.writeFile('probe\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rm(probe, { force: true });
    return null;
  } catch (e) {
    await rm(probe, { force: true }).catch(() => undefined);
    return errorText(e);
  }
}

/**
 * "cannot write state_dir /x: EACCES: …" for each directory that cannot be written, in order;
 * a directory inside one that failed is not reported again.
 */
export async function stateDirectoryProblems(dirs: readonly StateDirectory[]): Promise<string[]> {
  const problems: string[] = [];
  const failed: string[] = [];
  for (const d of dirs) {
    if (failed.some((f) => d.dir.startsWith(`${f}${path.sep}`))) continue;
    const problem = await writeProblem(d.dir);
    if (problem === null) continue;
    failed.push(d.dir);
    problems.push(`cannot write ${d.role} ${d.dir}: ${problem}`);
  }
  return problems;
}

/** `run` cannot start: a directory it must write is not writable. */
export class StateDirectoryError extends Error {
  readonly code = 'KLR_STATE_UNWRITABLE';
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(
      `${problems.join('\n')}\nrun the relay as a user that can write there (systemd: StateDirectory= does it), or set state_dir (and dead_letter.dir) in the config`,
    );
    this.name = 'StateDirectoryError';
    this.problems = problems;
  }
}
