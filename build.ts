/**
 * Builds the self-contained executable: `npm run build` -> dist/wsgate.
 *
 *   node --import tsx build.ts                      Bun, this platform (the default)
 *   node --import tsx build.ts --target bun-linux-arm64   another Bun target (needs its base binary)
 *   node --import tsx build.ts --deno               deno compile (needs a denort base binary)
 *
 * Everything the binary needs (hono, valibot, the demo page) is bundled in;
 * it reads no files but the config and the apps it is pointed at.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const valueOf = (flag: string) => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
};
const outfile = valueOf('--outfile') ?? join(root, 'dist', 'wsgate');
mkdirSync(dirname(outfile), { recursive: true });

function bin(name: string): string {
  const local = join(root, 'node_modules', '.bin', name);
  return existsSync(local) ? local : name;
}

function run(command: string, argv: string[]): number {
  // The embedded pusher-js is one long argument: shown by its start only.
  console.error(`$ ${command} ${argv.map((arg) => (arg.length > 120 ? `${arg.slice(0, 60)}…` : arg)).join(' ')}`);
  const result = spawnSync(command, argv, { cwd: root, stdio: 'inherit' });
  if (result.error) console.error(result.error.message);
  return result.status ?? 1;
}

// The binary carries the plain-PHP SDK: embed the current php/wsgate.php first,
if (run(process.execPath, [join(root, 'scripts', 'embed-php.mjs')]) !== 0) process.exit(1);
// ... and the browser client it serves at /wsgate.js.
if (run(process.execPath, [join(root, 'scripts', 'embed-client.mjs')]) !== 0) process.exit(1);

let status: number;
if (args.includes('--deno')) {
  // deno compile downloads a `denort` base binary unless DENORT_BIN points at one.
  status = run(bin('deno'), ['compile', '--allow-all', '--no-check', '--output', outfile, join(root, 'src', 'main.ts')]);
  if (status !== 0) {
    console.error('deno compile failed: it needs the denort base binary for this platform (set DENORT_BIN to a local copy when offline).');
  }
} else {
  const target = valueOf('--target');
  // The Pusher demo page's pusher-js, carried by the binary as a constant (it has no node_modules to read it from).
  const pusherJs = readFileSync(join(root, 'node_modules', 'pusher-js', 'dist', 'web', 'pusher.min.js'), 'utf8');
  status = run(bin('bun'), [
    'build',
    '--compile',
    '--minify',
    `--define=WSGATE_PUSHER_JS=${JSON.stringify(pusherJs)}`,
    ...(target ? [`--target=${target}`] : []),
    join(root, 'src', 'main.ts'),
    '--outfile',
    outfile,
  ]);
}
process.exit(status);
