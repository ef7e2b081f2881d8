/** The package version and the runtime, for --version, build_info and logs. */
import { readFileSync } from 'node:fs';

function readVersion(): string {
  // src/version.ts (Deno) and dist/src/version.js (Node) sit at different depths.
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'kong-log-relay' && typeof pkg.version === 'string') return pkg.version;
    } catch { /* try the next */ }
  }
  return '0.0.0';
}

export const VERSION = readVersion();

declare const Deno: { version: { deno: string } } | undefined;
export const RUNTIME = typeof Deno !== 'undefined' ? `deno-${Deno.version.deno}` : `node-${process.versions.node}`;
