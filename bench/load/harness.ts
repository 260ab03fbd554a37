/**
 * The bench harness's side of the processes it runs: the studio core alone in its own process
 * (nothing of the harness's loaded into it), and a pool of load-generator processes.
 * CPU of each is read from /proc so the figures of the studio, the load and the harness are
 * reported separately.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, startHeadless, type HeadlessCore } from '../../test/helpers/headless';
import { cpuSeconds } from '../lib';
import type { ThreadStats } from '../../src/shared/api';
import type { OperatorClient } from '../../test/helpers/studio';
import type { LoadRequest, LoadResponse } from './protocol';

/** A process whose requests and responses travel over its IPC channel. */
class Channel {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #nextId = 1;
  #exited: Error | null = null;

  constructor(child: ChildProcess, what: string) {
    this.#child = child;
    child.on('message', (message: LoadResponse) => {
      const pending = this.#pending.get(message.id);
      if (pending === undefined) return;
      this.#pending.delete(message.id);
      if (message.ok) pending.resolve(message.result);
      else pending.reject(new Error(`${what}: ${message.error}`));
    });
    child.once('exit', (code, signal) => {
      this.#exited = new Error(`${what} exited (${signal ?? code})`);
      for (const p of this.#pending.values()) p.reject(this.#exited);
      this.#pending.clear();
    });
  }

  request<T>(request: unknown, timeoutMs = 60_000): Promise<T> {
    if (this.#exited) return Promise.reject(this.#exited);
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`no answer to ${JSON.stringify(request).slice(0, 80)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.#child.send({ id, request });
    });
  }
}

/** One load-generator process. */
export class LoadProcess {
  readonly index: number;
  readonly child: ChildProcess;
  readonly #channel: Channel;
  publishers = 0;
  subscribers = 0;

  private constructor(index: number, child: ChildProcess) {
    this.index = index;
    this.child = child;
    this.#channel = new Channel(child, `load process ${index}`);
  }

  static async start(index: number): Promise<LoadProcess> {
    const child = fork(join(ROOT, 'bench/load/loadgen.ts'), [], {
      cwd: ROOT,
      execArgv: ['--import', 'tsx'],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const [ready] = (await Promise.race([
      once(child, 'message'),
      once(child, 'exit').then(([code]) => {
        throw new Error(`load process ${index} exited with ${String(code)} before it was ready`);
      }),
    ])) as [LoadResponse];
    if (ready.result !== 'ready') throw new Error(`load process ${index} sent ${JSON.stringify(ready)}`);
    return new LoadProcess(index, child);
  }

  get pid(): number {
    return this.child.pid!;
  }

  request<T>(request: LoadRequest, timeoutMs?: number): Promise<T> {
    return this.#channel.request<T>(request, timeoutMs);
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    await this.request({ op: 'close' }, 10_000).catch(() => {});
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

/** A pool of load processes, started together. */
export async function startLoadPool(procs: number): Promise<LoadProcess[]> {
  const started = await Promise.allSettled(Array.from({ length: procs }, (_, i) => LoadProcess.start(i)));
  const pool = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.all(pool.map((p) => p.close()));
    throw (failed as PromiseRejectedResult).reason;
  }
  return pool;
}

/** One thread of the studio as `GET /api/studio/threads` reports it, in MB. */
export interface ThreadHeap {
  thread: string;
  heapUsedMb: number;
  heapTotalMb: number;
  /** Since the previous reading (the benches read once as their window opens): busy share, timer delay. */
  eventLoopUtilization: number;
  eventLoopDelayMsP99: number;
  eventLoopDelayMsMax: number;
}

/**
 * Starts the headless core alone in a process, built (what `npm run serve` runs: no tsx, whose
 * loader and transpiled sources would count in the studio's memory; built first when stale).
 * The benches read its threads' heaps and event-loop figures from its own API (`threadHeaps`),
 * so nothing of theirs runs in it. `cpuProfDir` runs it under `--cpu-prof` (written when it exits).
 */
export async function startStudio(options: {
  dataDir: string;
  env?: Record<string, string>;
  cpuProfDir?: string;
}): Promise<HeadlessCore> {
  const nodeArgs: string[] = [];
  if (options.cpuProfDir !== undefined) {
    mkdirSync(options.cpuProfDir, { recursive: true });
    // Sampled every 200 µs: a task of a few ms (what a packet waits behind) spans enough samples.
    nodeArgs.push('--cpu-prof', '--cpu-prof-dir', options.cpuProfDir, '--cpu-prof-interval', '200');
  }
  // More Node flags for the studio, e.g. `--perf-basic-prof-only-functions` (Linux `perf`), `--trace-gc`.
  nodeArgs.push(...(process.env.BENCH_STUDIO_NODE_ARGS ?? '').split(' ').filter(Boolean));
  return startHeadless({
    dataDir: options.dataDir,
    env: { SPOOL_LOG_LEVEL: 'error', ...options.env },
    nodeArgs,
    timeoutMs: 30_000,
  });
}

/**
 * The heap of every thread of the studio (main and each media worker), as it reports them, and
 * each thread's event-loop load since the previous call.
 */
export async function threadHeaps(operator: OperatorClient): Promise<ThreadHeap[]> {
  const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
  const { items } = await operator.ok<{ items: ThreadStats[] }>('GET', '/api/studio/threads');
  return items.map((t) => ({
    thread: t.name,
    heapUsedMb: mb(t.heapUsed),
    heapTotalMb: mb(t.heapTotal),
    eventLoopUtilization: Math.round(t.eventLoopUtilization * 100) / 100,
    eventLoopDelayMsP99: t.eventLoopDelayMs.p99,
    eventLoopDelayMsMax: t.eventLoopDelayMs.max,
  }));
}

/** The main thread's event-loop delay in a `threadHeaps` reading (since the reading before it). */
export function mainThreadDelay(threads: ThreadHeap[]): { p99: number; max: number } {
  const main = threads.find((t) => t.thread === 'main');
  if (main === undefined) throw new Error('the studio reported no main thread');
  return { p99: main.eventLoopDelayMsP99, max: main.eventLoopDelayMsMax };
}

/** CPU use of processes over an interval, as % of one core. */
export class CpuMeter {
  readonly #start = new Map<number, number>();
  readonly #t0 = performance.now();
  readonly #self0 = process.cpuUsage();

  constructor(pids: number[]) {
    for (const pid of pids) this.#start.set(pid, cpuSeconds(pid));
  }

  /** % of one core each pid used since construction, and the harness itself. */
  read(): { byPid: Map<number, number>; harness: number; seconds: number } {
    const seconds = (performance.now() - this.#t0) / 1000;
    const byPid = new Map<number, number>();
    for (const [pid, c0] of this.#start) {
      let c1 = c0;
      try {
        c1 = cpuSeconds(pid);
      } catch {
        // the process ended
      }
      byPid.set(pid, ((c1 - c0) / seconds) * 100);
    }
    const self = process.cpuUsage(this.#self0);
    return { byPid, harness: ((self.user + self.system) / 1e6 / seconds) * 100, seconds };
  }
}

/** A result is invalid when a load process was this busy: it may have sent or read late. */
export const LOAD_CPU_LIMIT_PERCENT = 90;
/** …or when its packets left this late (p99, ms): the machine did not give it the CPU it needed. */
export const LOAD_LAG_LIMIT_MS = 50;

/** Why the load processes' figures make a result untrustworthy (none: it is valid). */
export function loadProblems(
  load: Array<{
    pid: number;
    cpuPercentOfOneCore: number;
    sendLagMsP99: number;
    udpReceiveDrops?: number | null;
  }>,
): string[] {
  const problems: string[] = [];
  for (const l of load) {
    if ((l.udpReceiveDrops ?? 0) > 0)
      problems.push(
        `load process ${l.pid}'s sockets dropped ${l.udpReceiveDrops} datagrams: loss there is not the studio's`,
      );
    if (l.cpuPercentOfOneCore > LOAD_CPU_LIMIT_PERCENT)
      problems.push(
        `load process ${l.pid} used ${l.cpuPercentOfOneCore} % of a core (limit ${LOAD_CPU_LIMIT_PERCENT}): use more --procs or a lower --bitrate`,
      );
    if (l.sendLagMsP99 > LOAD_LAG_LIMIT_MS)
      problems.push(
        `load process ${l.pid} sent packets up to ${l.sendLagMsP99} ms late (p99, limit ${LOAD_LAG_LIMIT_MS}): the machine is too busy`,
      );
  }
  return problems;
}

/** Percentile of a sorted array (NaN when empty). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/** Why publishers had to connect again (printed with the result: a busy machine shows here). */
export const connectFailures: string[] = [];
/** Attempts per publisher before the bench gives up. */
const CONNECT_ATTEMPTS = 3;

/**
 * Connects a WHIP publisher in a load process, trying again (with a fresh token) when the peer
 * does not connect: under a heavy machine load werift's ICE checks can time out. Every failure
 * is kept in `connectFailures`.
 */
export async function publishWithRetry(
  proc: LoadProcess,
  request: () => Promise<Extract<LoadRequest, { op: 'publish' }>>,
): Promise<{ connectionId: string }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await proc.request<{ connectionId: string }>(await request(), 90_000);
    } catch (error) {
      connectFailures.push((error as Error).message);
      if (attempt === CONNECT_ATTEMPTS) throw error;
    }
  }
}
