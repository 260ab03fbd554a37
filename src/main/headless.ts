/**
 * The headless entry: the same core as the desktop app, without Electron.
 *   serve [--data <dir>] [--port <n>] [--host <addr>]   start the studio
 *   serve --doctor [--data <dir>]                        print what the studio finds and exit
 */
import { parseArgs } from 'node:util';
import { APP_VERSION } from './appInfo';
import { ConfigError, loadConfig } from './config/loadConfig';
import { runDoctor } from './doctor';
import { throttledSink } from './recording/throttledSink';
import { DataFolderInUseError } from './store/DataLock';
import { Studio } from './Studio';

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

const USAGE = `Spool Studio ${APP_VERSION} (headless)
usage: npm run serve -- [--data <dir>] [--port <n>] [--host <address>]
       npm run doctor -- [--data <dir>]
Settings live in <data>/settings.json; every field can be overridden with SPOOL_<FIELD>.`;

/** The Node major the studio supports: the one inside Electron (Electron ≥ 40 ships Node 24). */
const REQUIRED_NODE_MAJOR = 24;

async function main(): Promise<number> {
  const nodeMajor = Number(process.versions.node.split('.')[0]);
  if (nodeMajor < REQUIRED_NODE_MAJOR) {
    err(
      `Spool Studio needs Node ${REQUIRED_NODE_MAJOR} or later; this is Node ${process.versions.node}. ` +
        `Install Node ${REQUIRED_NODE_MAJOR} LTS (see the README).`,
    );
    return 1;
  }
  let args;
  try {
    args = parseArgs({
      args: process.argv.slice(2),
      options: {
        data: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        doctor: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (error) {
    err(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    out(USAGE);
    return 0;
  }
  const overrides = { httpPort: args.port, bindAddress: args.host };

  if (args.doctor) {
    try {
      const config = loadConfig({ ...(args.data ? { dataDir: args.data } : {}), overrides });
      return await runDoctor(config, out);
    } catch (error) {
      err(`Spool Studio: ${(error as Error).message}`);
      return 1;
    }
  }

  // Test hook: a disk that takes only this many bytes per second (backpressure tests, benchmarks).
  const slowDisk = Number(process.env.SPOOL_TEST_DISK_BYTES_PER_SEC ?? '');
  try {
    running = await Studio.start({
      ...(args.data ? { dataDir: args.data } : {}),
      overrides,
      ...(slowDisk > 0 ? { openSink: throttledSink(slowDisk) } : {}),
    });
  } catch (error) {
    if (error instanceof ConfigError || error instanceof DataFolderInUseError)
      err(`Spool Studio: ${error.message}`);
    else err(`Spool Studio could not start: ${(error as Error).stack ?? String(error)}`);
    return 1;
  }
  const studio = running;
  out(`Data directory: ${studio.config.dataDir}`);
  if (studio.config.generated.includes('operatorPassword')) {
    out(
      `Operator password (generated, saved in ${studio.config.settingsPath}): ${studio.config.settings.operatorPassword}`,
    );
  }
  // The stop signals are handled before anyone is told the studio listens: a SIGTERM sent on the
  // line below must close the studio, not kill it (the default action until a handler exists).
  const signalled = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  // Scripts and tests wait for this line; it comes last.
  out(`Spool Studio ${APP_VERSION} listening on ${studio.url}`);
  out(`Spool Studio stopping (${await signalled})`);
  await studio.close();
  return 0;
}

let running: Studio | null = null;
let crashing = false;

/**
 * A bug must not keep a half-working studio alive, nor lose the takes: log it, finalize what
 * can be finalized (a short deadline; the rest is left for crash recovery) and exit non-zero.
 */
function fatal(what: string, error: unknown): void {
  err(`Spool Studio: ${what}: ${(error as Error)?.stack ?? String(error)}`);
  if (crashing) return;
  crashing = true;
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 15_000).unref();
  const studio = running;
  if (studio === null) process.exit(1);
  studio.logger.fatal({ err: error }, what);
  void studio
    .shutdown()
    .catch(() => {})
    .finally(() => process.exit(1));
}
process.on('unhandledRejection', (reason) => fatal('unhandled promise rejection', reason));
process.on('uncaughtException', (error) => fatal('uncaught exception', error));

main().then(
  (code) => {
    process.exitCode = code;
    // Sockets of peers that ignore the close may keep the loop alive; the studio is closed.
    setTimeout(() => process.exit(code), 2000).unref();
  },
  (error: unknown) => {
    err(`Spool Studio crashed: ${(error as Error).stack ?? String(error)}`);
    process.exit(1);
  },
);
