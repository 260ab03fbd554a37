// Runs every test: unit tests, integration tests against real servers and end-to-end specs
// in Chromium. Usage: npm test [-- <file or folder filter>...]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ensureBuilt, ensureNodeSqlite, requireSupportedNode, root } from './lib.mjs';

requireSupportedNode();

ensureNodeSqlite();
// End-to-end specs need the built renderer.
ensureBuilt();

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name === 'node_modules' || name === 'artifacts') continue;
    if (statSync(path).isDirectory()) out.push(...find(path));
    else if (/\.(test|spec)\.ts$/.test(name)) out.push(path);
  }
  return out;
}

const filters = process.argv.slice(2);
const order = (p) => (p.includes('/unit/') ? 0 : p.includes('/integration/') ? 1 : 2);
const files = [...find(join(root, 'test')), ...find(join(root, 'src'))]
  .map((p) => relative(root, p))
  .filter((p) => filters.length === 0 || filters.some((f) => p.includes(f)))
  .sort((a, b) => order(a) - order(b) || a.localeCompare(b));
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}

const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=1',
    // A hung test fails with its name instead of hanging CI (tests may set a shorter one).
    `--test-timeout=${process.env.SPOOL_TEST_TIMEOUT_MS ?? 240_000}`,
    // A file whose tests ended exits even if something (a server a failed hook left) holds its
    // event loop; the servers' exit handlers then kill them.
    '--test-force-exit',
    '--test-reporter=spec',
    ...files,
  ],
  { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
);
process.exit(result.status ?? 1);
