#!/usr/bin/env node
// Builds the browser client (src/client/, entry wsgate.ts) into src/client/bundle.ts:
// an ES module, a classic script defining `window.wsgate`, and the module's
// declarations, so every gateway serves them from inside itself.
// Run by hand after editing the client; a unit test checks the two have not drifted.
import { buildSync } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src', 'client', 'wsgate.ts');
const BANNER = '// wsgate.js: the browser client of wsgate (docs/PROTOCOL.md). Built from src/client/wsgate.ts.';

/** The client bundled in one format: readable, for browsers of 2020 on. */
function bundle(format) {
  const result = buildSync({
    entryPoints: [source],
    absWorkingDir: root,
    bundle: true,
    write: false,
    format,
    ...(format === 'iife' ? { globalName: 'wsgate' } : {}),
    target: 'es2020',
    platform: 'browser',
    charset: 'utf8',
    banner: { js: BANNER },
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}

/**
 * The declarations, by tsc itself from the types in src/client/. Without the
 * project's tsconfig: browser libs only, so it also checks the client uses
 * nothing of Node's.
 */
function declarations() {
  const out = mkdtempSync(join(tmpdir(), 'wsgate-client-'));
  try {
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const args = ['--ignoreConfig', '--declaration', '--emitDeclarationOnly', '--strict', '--target', 'es2020', '--lib', 'es2020,dom', '--types', '', '--module', 'esnext', '--moduleResolution', 'bundler', '--allowImportingTsExtensions', '--outDir', out, source];
    const run = spawnSync(process.execPath, [tsc, ...args], { cwd: root, encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`tsc failed on src/client/wsgate.ts:\n${run.stdout}${run.stderr}`);
    // Served as one file, which can import nothing: the public types of
    // types.ts in place of the entry's lines that import them from there.
    const types = readFileSync(join(out, 'types.d.ts'), 'utf8');
    const entry = readFileSync(join(out, 'wsgate.d.ts'), 'utf8').replace(/^(import|export) type .* from '\.\/types\.ts';\n/gm, '');
    const imports = /^(import|export) .* from /m;
    if (imports.test(types) || imports.test(entry)) throw new Error('wsgate.d.ts would import: the public API may use only the types in src/client/types.ts');
    return `${BANNER.replace('wsgate.js', 'wsgate.d.ts')}\n${types}${entry}`;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** The text of src/client/bundle.ts for the client as it is now. */
export function clientBundle() {
  return [
    '// Generated from src/client/wsgate.ts by scripts/embed-client.mjs: edit that file, then run it.',
    '/** wsgate.js as an ES module: `export function connect`. */',
    `export const WSGATE_MJS = ${JSON.stringify(bundle('esm'))};`,
    '/** wsgate.js as a classic script: defines `window.wsgate`. */',
    `export const WSGATE_JS = ${JSON.stringify(bundle('iife'))};`,
    '/** The declarations of the ES module. */',
    `export const WSGATE_DTS = ${JSON.stringify(declarations())};`,
    '',
  ].join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  writeFileSync(join(root, 'src', 'client', 'bundle.ts'), clientBundle());
}
