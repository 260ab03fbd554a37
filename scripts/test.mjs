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

/**
 * Files that neither measure time nor stream media for long (unit tests, the security suite,
 * API-level integration tests) run two at a time; everything else — recordings, lip sync,
 * composition, browsers — runs alone, so a busy machine cannot skew what it measures. A file
 * not listed here runs alone.
 */
const SHARED = [
  /^test\/unit\//,
  /^test\/security\//,
  /^src\/.*\.test\.ts$/,
  ...[
    'archive-summaries',
    'data-lock',
    'delivery-api',
    'delivery-queue',
    'delivery-targets',
    'files',
    'headless',
    'lan',
    'opentok-sdk',
    'rooms',
    'webhook-outbox',
    'whip',
  ].map((name) => new RegExp(`^test/integration/${name}\\.test\\.ts$`)),
];
const shared = files.filter((f) => SHARED.some((re) => re.test(f)));
const alone = files.filter((f) => !shared.includes(f));

function run(group, concurrency) {
  if (group.length === 0) return 0;
  const result = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      `--test-concurrency=${concurrency}`,
      // A hung test fails with its name instead of hanging CI (tests may set a shorter one).
      `--test-timeout=${process.env.SPOOL_TEST_TIMEOUT_MS ?? 240_000}`,
      // A file whose tests ended exits even if something (a server a failed hook left) holds its
      // event loop; the servers' exit handlers then kill them.
      '--test-force-exit',
      '--test-reporter=spec',
      ...group,
    ],
    { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
  );
  return result.status ?? 1;
}

const statuses = [run(shared, 2), run(alone, 1)];
process.exit(statuses.find((s) => s !== 0) ?? 0);
