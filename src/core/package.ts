/**
 * Facts about the installed `nereid` package: where it lives and its version (from its
 * `package.json`, so the version is written in one place).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/**
 * The package root: the nearest directory above this module holding a `package.json` (works from
 * `src/core` and from `dist/src/core`).
 * @throws Error when no package.json is found above this module.
 */
export function packageRoot(): string {
  if (root) return root;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return (root = dir);
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`package.json not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/**
 * Nereid's version, the `version` field of its package.json (server metadata `version`,
 * `nereid --version`).
 */
export const NEREID_VERSION: string = (
  JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }
).version;
