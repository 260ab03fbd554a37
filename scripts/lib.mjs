// Helpers shared by the npm scripts (start, serve, test).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));

/** The Node major the studio runs on: the Node inside Electron (Electron ≥ 40 ships Node 24). */
export const REQUIRED_NODE_MAJOR = 24;

/**
 * V8 flags of the studio's main thread: `npm run serve` (package.json, checked by a unit test),
 * `npm start` (Electron's `--js-flags`) and the benches' built studio. The main thread keeps
 * ~30 MB live, but V8's default young generation (semi-spaces up to 16 MB) let its heap grow
 * ~25 MB past that under load (docs/threads.md, "Memory"); media workers set theirs with
 * `resourceLimits`. Only the command line can set it: `v8.setFlagsFromString` does not resize a
 * heap that exists.
 */
export const STUDIO_V8_FLAGS = ['--max-semi-space-size=2'];

/** Exits with a clear message when this Node is older than the supported one. */
export function requireSupportedNode() {
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= REQUIRED_NODE_MAJOR) return;
  console.error(
    `Spool Studio needs Node ${REQUIRED_NODE_MAJOR} or later (the Node inside Electron); this is Node ${process.versions.node} (${process.execPath}).\n` +
      `Install Node ${REQUIRED_NODE_MAJOR} LTS, or on Linux x64 without it run \`. .ci/node24.sh\` first: it fetches Node ${REQUIRED_NODE_MAJOR} from the npm registry and puts it first on PATH.`,
  );
  process.exit(1);
}
const require = createRequire(import.meta.url);

function run(command, args, stdio = 'inherit') {
  const result = spawnSync(command, args, { cwd: root, stdio });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

function newestMtime(dir) {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stats = statSync(path);
    newest = Math.max(newest, stats.isDirectory() ? newestMtime(path) : stats.mtimeMs);
  }
  return newest;
}

function buildIsStale() {
  const outputs = [
    'out/main/index.js',
    'out/main/headless.js',
    'out/preload/index.cjs',
    'out/renderer/index.html',
  ].map((p) => join(root, p));
  return (
    outputs.some((p) => !existsSync(p)) ||
    Math.max(newestMtime(join(root, 'src')), statSync(join(root, 'electron.vite.config.ts')).mtimeMs) >
      Math.min(...outputs.map((p) => statSync(p).mtimeMs))
  );
}

/**
 * Held by the one process that builds: a directory (made atomically) with the holder's PID in it.
 * Others wait for it; a lock whose holder is gone (a build interrupted by Ctrl-C) is taken over.
 */
const BUILD_LOCK = join(root, 'node_modules', '.spool-build.lock');
const BUILD_WAIT_MS = 180_000;

function sleepSync(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Whether the lock's holder still runs (a lock just made, its PID not yet written, counts as held). */
function lockHeld() {
  let pid;
  try {
    pid = Number(readFileSync(join(BUILD_LOCK, 'pid'), 'utf8'));
  } catch {
    const made = statSync(BUILD_LOCK, { throwIfNoEntry: false })?.mtimeMs;
    return made !== undefined && Date.now() - made < 5_000;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/**
 * Builds main, preload and renderer when the build is missing or older than the sources.
 * `toStderr` sends the build's output to stderr (the benches keep stdout for their JSON line).
 * Processes that find it stale at once (test files run side by side, each starting the built
 * studio) build it once: one holds a lock while the others wait, then find it fresh.
 */
export function ensureBuilt({ toStderr = false } = {}) {
  if (!buildIsStale()) return;
  const log = toStderr ? console.error : console.log;
  const deadline = Date.now() + BUILD_WAIT_MS;
  let waiting = false;
  for (;;) {
    try {
      mkdirSync(BUILD_LOCK);
      writeFileSync(join(BUILD_LOCK, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
      if (!lockHeld()) {
        rmSync(BUILD_LOCK, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) {
        console.error(
          `Spool Studio: another build held ${BUILD_LOCK} for ${BUILD_WAIT_MS / 1000} s; giving up`,
        );
        process.exit(1);
      }
      if (!waiting) log('Waiting for another build of Spool Studio…');
      waiting = true;
      sleepSync(200);
    }
  }
  let status = 0;
  try {
    if (!buildIsStale()) return;
    log('Building Spool Studio…');
    status = spawnSync(
      process.execPath,
      [join(root, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'],
      { cwd: root, stdio: toStderr ? ['ignore', 2, 2] : 'inherit' },
    ).status;
  } finally {
    rmSync(BUILD_LOCK, { recursive: true, force: true });
  }
  if (status !== 0) process.exit(status ?? 1);
}

/** `npm start` builds better-sqlite3 for Electron; Node (serve, tests) needs Node's build back. */
export function ensureNodeSqlite() {
  try {
    const Database = require('better-sqlite3');
    new Database(':memory:').close();
  } catch (error) {
    if (!/NODE_MODULE_VERSION|was compiled against/.test(String(error))) throw error;
    console.log('better-sqlite3 was built for Electron; rebuilding it for Node…');
    run('npm', ['rebuild', 'better-sqlite3']);
  }
}

/** Builds better-sqlite3 for the installed Electron (prebuilt binary, else compiled against Electron's headers). */
export function ensureElectronSqlite() {
  const { version } = require('electron/package.json');
  const result = spawnSync('npm', ['rebuild', 'better-sqlite3'], {
    cwd: root,
    stdio: 'inherit',
    env: {
      ...process.env,
      npm_config_runtime: 'electron',
      npm_config_target: version,
      npm_config_disturl: 'https://electronjs.org/headers',
    },
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
