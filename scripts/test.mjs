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
 * Files that measure nothing in time run two at a time: unit tests, the security suite, API-level
 * integration tests, and integration and browser tests that check what happens, not when (each
 * waits with a deadline, never a fixed time; offline composition renders check the pictures and
 * the sound they make, not how fast). Everything that measures time — lip sync, durations, a
 * slow or full disk, ordered stops, stop → available of a live composition, health warnings —
 * or needs both cores (Chromium guests encoding their cameras) runs alone, so a busy machine
 * cannot skew it. A file not listed here runs alone.
 */
const SHARED = [
  /^test\/unit\//,
  /^test\/security\//,
  /^src\/.*\.test\.ts$/,
  ...[
    'archive-summaries',
    'auto-archive',
    'composition-render',
    'composition-service',
    'data-lock',
    'delivery-api',
    'delivery-crash',
    'delivery-queue',
    'delivery-recorded',
    'delivery-resume',
    'delivery-targets',
    'fault-points',
    'files',
    'headless',
    'lan',
    'live-download',
    'media-workers',
    'opentok-compat',
    'opentok-sdk',
    'recording-lifecycle',
    'recording-stall',
    'recovery',
    'rooms',
    'status-callback-patch',
    'webhook-gone',
    'webhook-outbox',
    'whip',
  ].map((name) => new RegExp(`^test/integration/${name}\\.test\\.ts$`)),
  ...['layout-editor', 'operator-day', 'playback', 'program-view', 'status'].map(
    (name) => new RegExp(`^test/e2e/${name}\\.spec\\.ts$`),
  ),
];
// The long files (integration, browser) first: the short ones then fill in beside the last of them.
const long = (f) => (/^test\/(integration|e2e)\//.test(f) ? 0 : 1);
const shared = files.filter((f) => SHARED.some((re) => re.test(f))).sort((a, b) => long(a) - long(b));
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
