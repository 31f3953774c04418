#!/usr/bin/env node
// `npx wsgate` / a global npm install: run the TypeScript source on Node through tsx.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const tsx = createRequire(import.meta.url).resolve('tsx');
const child = spawn(process.execPath, ['--import', tsx, join(here, '..', 'src', 'main.ts'), ...process.argv.slice(2)], { stdio: 'inherit' });
// The gateway is the child: reload (SIGHUP) and stop (SIGTERM, SIGINT) are meant for it, not for this wrapper.
for (const signal of ['SIGHUP', 'SIGTERM', 'SIGINT']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
