import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { ensureBuilt, STUDIO_V8_FLAGS } from '../../scripts/lib.mjs';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Known credentials tests start the studio with. */
export const TEST_CREDENTIALS = {
  SPOOL_API_KEY: '12345678',
  SPOOL_API_SECRET: 'test-secret-0123456789abcdef',
  SPOOL_OPERATOR_PASSWORD: 'operator-pass-123',
  SPOOL_FILES_USER: 'files',
  SPOOL_FILES_PASSWORD: 'files-pass-123',
};

export interface HeadlessCore {
  url: string;
  port: number;
  process: ChildProcess;
  /** Everything the process printed so far. */
  output(): string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
}

export interface StartHeadlessOptions {
  dataDir: string;
  env?: Record<string, string>;
  port?: number;
  /** How long to wait for the listening line. */
  timeoutMs?: number;
  /** Node flags before the entry (`--cpu-prof`, `--trace-gc`…). */
  nodeArgs?: string[];
}

/**
 * The headless core as users run it (`npm run serve`): the built bundle with its V8 flags. Tests
 * and benches start it this way, not from the sources under tsx: that is what ships, and a start
 * takes ~1.1 s of CPU instead of ~2 s (tsx compiles every module on the main thread and again in
 * each media worker; a full `npm test` starts the studio ~70 times). The bundle is rebuilt
 * first when the sources are newer (`npm test` has built it already).
 */
function studioCommand(args: string[], nodeArgs: string[] = []): string[] {
  ensureBuilt({ toStderr: true });
  return [...STUDIO_V8_FLAGS, ...nodeArgs, 'out/main/headless.js', ...args];
}

/** Starts the headless core (`npm run serve`'s entry) and waits until it listens. */
export async function startHeadless(options: StartHeadlessOptions): Promise<HeadlessCore> {
  const child = spawn(
    process.execPath,
    studioCommand(['--data', options.dataDir, '--port', String(options.port ?? 0)], options.nodeArgs),
    {
      cwd: ROOT,
      env: { ...process.env, SPOOL_LOG_LEVEL: 'warn', ...TEST_CREDENTIALS, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    if (process.env.SPOOL_CORE_STDERR) process.stderr.write(chunk);
  });
  const exited = once(child, 'exit');

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`headless core did not start within ${options.timeoutMs ?? 45_000} ms:\n${output}`));
    }, options.timeoutMs ?? 45_000);
    const check = () => {
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`headless core exited with ${code}:\n${output}`));
    });
  });
  const exitCode = async (): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const [code] = (await exited) as [number | null];
    return code;
  };
  return {
    url,
    port: Number(new URL(url).port),
    process: child,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exitCode();
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exitCode();
    },
  };
}

/** Runs the headless command to completion (for commands that exit: bad config, --doctor). */
export async function runHeadless(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, studioCommand(args), {
    cwd: ROOT,
    env: { ...process.env, SPOOL_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}
