// The shape docs/ARCHITECTURE.md promises: layers that import only downwards,
// no import cycles, and files small enough to read.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? files(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : []));
}

const all = files(SRC);
const rel = (file: string) => relative(SRC, file);
/** Every relative import of a file, type-only ones included: a cycle of types is still a cycle to read. */
const imports = new Map(
  all.map((file) => {
    const text = readFileSync(file, 'utf8');
    const found = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) => resolve(dirname(file), m[1]!));
    return [file, found] as const;
  }),
);

describe('architecture', () => {
  it('has no import cycle under src/', () => {
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') return void cycles.push([...path.slice(path.indexOf(file)), file].map(rel).join(' -> '));
      state.set(file, 'open');
      for (const next of imports.get(file) ?? []) visit(next, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of all) visit(file, []);
    assert.deepEqual(cycles, []);
  });

  it('keeps the core free of wire formats, HTTP, Redis, runtimes and processes', () => {
    // The core may read the config, call a runner through its interface and write through the runtime's Wire type; it logs nothing itself (ops/ observes it).
    const allowed = [/^core\//, /^config\//, /^hooks\/runners\/runner\.ts$/, /^runtime\/types\.ts$/];
    const wrong = all
      .filter((file) => rel(file).startsWith('core/'))
      .flatMap((file) => (imports.get(file) ?? []).filter((to) => !allowed.some((rule) => rule.test(rel(to)))).map((to) => `${rel(file)} -> ${rel(to)}`));
    assert.deepEqual(wrong, []);
  });

  it('keeps runtime-specific code in src/runtime/', () => {
    const wrong = all.filter((file) => !rel(file).startsWith('runtime/') && /\b(Bun|Deno)\.[a-z]/.test(readFileSync(file, 'utf8').replace(/\/\/.*|\/\*[\s\S]*?\*\//g, ''))).map(rel);
    assert.deepEqual(wrong, []);
  });

  it('has no file over 400 lines but the generated ones', () => {
    // Generated: one long line each (scripts/embed-*.mjs).
    const exempt = new Set(['client/bundle.ts', 'hooks/sdk/wsgate-php.ts']);
    const long = all.filter((file) => !exempt.has(rel(file))).map((file) => [rel(file), readFileSync(file, 'utf8').split('\n').length] as const).filter(([, lines]) => lines > 400);
    assert.deepEqual(long, []);
  });
});
