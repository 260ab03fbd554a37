// Runs the benchmarks under bench/ (each prints one JSON line of figures).
// Usage: npm run bench [-- <name>…]   e.g. npm run bench -- sfu record
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ensureNodeSqlite, requireSupportedNode, root } from './lib.mjs';

requireSupportedNode();

ensureNodeSqlite();
const wanted = process.argv.slice(2);
/** Benches that run for half an hour: only when named. */
const LONG = new Set(['soak']);
const benches = readdirSync(join(root, 'bench'))
  .filter((f) => f.endsWith('.ts') && f !== 'lib.ts')
  .map((f) => f.replace(/\.ts$/, ''))
  .filter((name) => (wanted.length === 0 ? !LONG.has(name) : wanted.includes(name)));
let failed = 0;
for (const name of benches) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', join('bench', `${name}.ts`)], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
