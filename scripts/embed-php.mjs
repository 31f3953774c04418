#!/usr/bin/env node
// Embeds php/wsgate.php into src/hooks/sdk/wsgate-php.ts, so the binary carries the SDK.
// Run by `npm run build` and checked by a unit test (the two must not drift).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const php = readFileSync(join(root, 'php', 'wsgate.php'), 'utf8');
const out = `// Generated from php/wsgate.php by scripts/embed-php.mjs: edit that file, then run it.\nexport const WSGATE_PHP = ${JSON.stringify(php)};\n`;
writeFileSync(join(root, 'src', 'hooks', 'sdk', 'wsgate-php.ts'), out);
