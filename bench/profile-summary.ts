/**
 * Summarize a V8 .cpuprofile (from `node --cpu-prof`, or `npm run bench -- p1 --profile`): the
 * functions with the most self time, and the share of GC, idle and native code.
 *
 *   node dist/bench/profile-summary.js FILE.cpuprofile [top=30]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileLine {
  readonly name: string;
  readonly ms: number;
  readonly share: number;
}

/** Self time per function (name + file:line), largest first. */
export function selfTimes(profile: CpuProfile): { lines: ProfileLine[]; totalMs: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]);
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    if (node === undefined) continue;
    total += dt;
    const f = node.callFrame;
    const where = f.url === '' ? '' : ` ${path.basename(f.url)}:${f.lineNumber + 1}`;
    const name = `${f.functionName === '' ? '(anonymous)' : f.functionName}${where}`;
    self.set(name, (self.get(name) ?? 0) + dt);
  }
  const lines = [...self]
    .map(([name, ms]) => ({ name, ms, share: total === 0 ? 0 : ms / total }))
    .sort((a, b) => b.ms - a.ms);
  return { lines, totalMs: total };
}

export function formatProfile(file: string, top = 30): string {
  const { lines, totalMs } = selfTimes(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
  const out = [`${path.basename(file)}: ${totalMs.toFixed(0)} ms sampled; self time by function:`];
  for (const l of lines.slice(0, top))
    out.push(`${(l.share * 100).toFixed(1).padStart(5)}%  ${l.ms.toFixed(0).padStart(6)} ms  ${l.name}`);
  return out.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const file = process.argv[2];
  if (file === undefined) {
    process.stderr.write('usage: node dist/bench/profile-summary.js FILE.cpuprofile [top]\n');
    process.exit(2);
  }
  process.stdout.write(`${formatProfile(file, Number(process.argv[3] ?? 30))}\n`);
}
