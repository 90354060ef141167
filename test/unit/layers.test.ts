// The architecture's one direction of dependency (ARCHITECTURE.md), checked on the source: each
// folder of src/ may import only from the folders listed for it, so the client never pulls in the
// server and the core never knows about HTTP or gRPC.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { packageRoot } from '../../src/core/package.js';

const SRC = path.join(packageRoot(), 'src');

/** The concern a file under src/ belongs to: its first folder (two levels for frontends and backends). */
function concern(file: string): string {
  const parts = path.relative(SRC, file).split(path.sep);
  if (parts.length === 1) return parts[0].replace(/\.ts$/, '');
  return parts[0] === 'frontends' || parts[0] === 'backends' ? `${parts[0]}/${parts[1]}` : parts[0];
}

/** What each concern may import besides itself (and npm packages / Node built-ins). */
const ALLOWED: Record<string, (other: string) => boolean> = {
  protocol: () => false,
  config: (o) => o === 'protocol',
  repository: (o) => ['protocol', 'config'].includes(o),
  core: (o) => ['protocol', 'config', 'repository'].includes(o),
  frontends: (o) => ['protocol', 'config', 'core'].includes(o),
  backends: (o) => ['protocol', 'config', 'core'].includes(o),
  client: (o) => o === 'protocol',
  perf: (o) => ['protocol', 'client'].includes(o),
  examples: (o) => o === 'protocol',
  // Ambient declarations of untyped npm packages.
  types: () => false,
  // The composition root and the entry points assemble everything.
  serve: () => true,
  index: () => true,
  cli: () => true,
};

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

/** Relative module specifiers of a file's static and dynamic imports and re-exports. */
function imports(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(
    /(?:^|\s)(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)/g,
  )) {
    out.push(m[1] ?? m[2]);
  }
  return out;
}

describe('layers', () => {
  const files = sources(SRC);

  test('every folder of src/ has a rule', () => {
    const unknown = [...new Set(files.map(concern))].filter((c) => !(c.split('/')[0] in ALLOWED));
    assert.deepEqual(unknown, []);
  });

  test('imports go one way: protocol ← config ← repository ← core ← frontends/backends; client ← perf', () => {
    const violations: string[] = [];
    for (const file of files) {
      const from = concern(file);
      const rule = ALLOWED[from.split('/')[0]];
      for (const spec of imports(file)) {
        const target = concern(path.resolve(path.dirname(file), spec));
        if (target === from) continue;
        if (
          !rule(target.split('/')[0]) ||
          (from.includes('/') && target.split('/')[0] === from.split('/')[0])
        ) {
          violations.push(`${path.relative(packageRoot(), file)} imports ${spec} (${from} → ${target})`);
        }
      }
    }
    assert.deepEqual(violations, []);
  });

  test('the checker sees imports (it finds the client importing the protocol)', () => {
    const grpcClient = path.join(SRC, 'client', 'grpc.ts');
    const targets = imports(grpcClient).map((s) => concern(path.resolve(path.dirname(grpcClient), s)));
    assert.ok(targets.includes('protocol'), targets.join(', '));
  });
});
