/** The package's root folder and version, for --version, build_info, logs and the demo. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** src/version.ts (Deno) and dist/src/version.js (Node) sit at different depths below the root. */
function findPackage(): { root: string; version: string } {
  for (const rel of ['..', '../..']) {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), rel);
    try {
      const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'kong-log-relay' && typeof pkg.version === 'string') return { root, version: pkg.version };
    } catch {
      /* try the next */
    }
  }
  return { root: process.cwd(), version: '0.0.0' };
}

const found = findPackage();
export const PACKAGE_ROOT = found.root;
export const VERSION = found.version;
