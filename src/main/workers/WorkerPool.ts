import { getHeapStatistics } from 'node:v8';
import { MessageChannel, threadId } from 'node:worker_threads';
import { StudioError } from '../../shared/errors';
import type { Logger } from '../logger';
import { sharedQueueSlots } from '../recording/WriteBudget';
import { TypedEmitter } from '../util/TypedEmitter';
import { MediaWorker, type MediaWorkerOptions } from './MediaWorker';
import type { ThreadStats } from './protocol';
import { threadLoadMeter } from './threadLoad';
import { mediaWorkerEntry } from './workerEntry';

export interface WorkerPoolEvents {
  [key: string]: unknown[];
  /** A worker is ready (at start, and each restart): hand it work. */
  workerStarted: [worker: MediaWorker, restarts: number];
  /** A worker ended on its own; everything it hosted is gone (handles close on this). */
  workerDied: [worker: MediaWorker, reason: string];
  /** A worker index died too often and stays down; the others carry on. */
  workerFailed: [index: number, reason: string];
  close: [];
}

/** When a dead worker is started again. */
export interface RestartPolicy {
  /** First delay before a restart; doubles for each further death within `windowMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** This many deaths of one index within `windowMs` and it is not restarted any more. */
  maxDeaths: number;
  windowMs: number;
}

export interface WorkerPoolOptions {
  /** Number of media worker threads (the `mediaWorkers` setting; at least 1 here). */
  size: number;
  logger: Logger;
  /** pino level of the workers' loggers. */
  logLevel?: string;
  /** Entry of the worker (default: the built or source `mediaWorker`). */
  entry?: URL;
  /** Accept test-only `fault.*` requests. */
  allowFaults?: boolean;
  requestTimeoutMs?: number;
  heartbeatMs?: number;
  missedPings?: number;
  startTimeoutMs?: number;
  /** How long a closing worker may take to close what it hosts before its thread is ended. */
  closeTimeoutMs?: number;
  restart?: Partial<RestartPolicy>;
}

interface Slot {
  index: number;
  worker: MediaWorker | null;
  /** Times of recent deaths (for the restart policy). */
  deaths: number[];
  restarts: number;
  timer: NodeJS.Timeout | null;
  failed: boolean;
}

const mainLoad = threadLoadMeter();

/** Heap and event-loop load of the main thread (the load since the previous call). */
export function mainThreadStats(): ThreadStats {
  const heap = getHeapStatistics();
  const memory = process.memoryUsage();
  return {
    name: 'main',
    threadId,
    heapUsed: heap.used_heap_size,
    heapTotal: heap.total_heap_size,
    external: memory.external,
    arrayBuffers: memory.arrayBuffers,
    ...mainLoad(),
  };
}

const DEFAULT_RESTART: RestartPolicy = {
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxDeaths: 5,
  windowMs: 60_000,
};

/**
 * The media worker threads (docs/threads.md): starts them, picks the least-loaded for new work,
 * restarts one that dies (with backoff, giving up on an index that keeps dying), and reports
 * every thread's heap and event-loop load.
 */
export class WorkerPool extends TypedEmitter<WorkerPoolEvents> {
  readonly #options: Required<Omit<WorkerPoolOptions, 'restart' | 'entry'>> & {
    entry: URL;
    restart: RestartPolicy;
  };
  readonly #slots: Slot[] = [];
  /**
   * What each recording thread has queued for the disk (recording/WriteBudget.ts): slot 0 the
   * main thread's, slot `index + 1` worker `index`'s. A worker that dies takes its queue with it.
   */
  readonly queueSlots: BigInt64Array;
  readonly #logger: Logger;
  #closed = false;
  #starting: Promise<void> | null = null;

  constructor(options: WorkerPoolOptions) {
    super();
    if (!Number.isInteger(options.size) || options.size < 1)
      throw new StudioError(
        'InvalidArgument',
        `a worker pool needs at least one worker, not ${options.size}`,
        'mediaWorkers',
      );
    this.#logger = options.logger;
    this.#options = {
      logLevel: 'info',
      allowFaults: false,
      requestTimeoutMs: 10_000,
      heartbeatMs: 2000,
      missedPings: 3,
      startTimeoutMs: 30_000,
      closeTimeoutMs: 5000,
      ...options,
      entry: options.entry ?? mediaWorkerEntry(),
      restart: { ...DEFAULT_RESTART, ...options.restart },
    };
    this.onListenerError = (event, error) =>
      this.#logger.error({ err: error, event }, 'worker pool listener failed');
    this.queueSlots = sharedQueueSlots(options.size + 1);
    for (let index = 0; index < options.size; index++)
      this.#slots.push({ index, worker: null, deaths: [], restarts: 0, timer: null, failed: false });
  }

  get size(): number {
    return this.#slots.length;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Starts every worker; rejects (and stops the others) if one cannot start. Later calls wait for
   * the same start, so the studio can start its workers when media first needs them. A start that
   * failed leaves no thread running and the next call tries again (a passing shortage of memory
   * or threads must not keep the studio's media plane down until it restarts).
   */
  start(): Promise<void> {
    if (this.#closed) return Promise.reject(new StudioError('Unavailable', 'the media workers are closed'));
    this.#starting ??= this.#startAll();
    return this.#starting;
  }

  async #startAll(): Promise<void> {
    // Every slot settles before a failure is handled: a worker still starting would otherwise
    // come up after the others were stopped.
    const results = await Promise.allSettled(this.#slots.map((slot) => this.#startSlot(slot)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed === undefined) return;
    await this.#stopSlots();
    this.#starting = null;
    throw failed.reason;
  }

  /** Clears every slot's restart timer and closes its worker. */
  async #stopSlots(): Promise<void> {
    for (const slot of this.#slots) {
      if (slot.timer !== null) clearTimeout(slot.timer);
      slot.timer = null;
    }
    await Promise.all(
      this.#slots.map(async (slot) => {
        const worker = slot.worker;
        slot.worker = null;
        await worker?.close(this.#options.closeTimeoutMs);
      }),
    );
  }

  /** Whether the workers are started or starting (false again after a start that failed). */
  get started(): boolean {
    return this.#starting !== null;
  }

  /** The running worker at an index, or null while it is down. */
  worker(index: number): MediaWorker | null {
    return this.#slots[index]?.worker ?? null;
  }

  /** The running workers. */
  workers(): MediaWorker[] {
    return this.#slots.flatMap((s) => (s.worker === null ? [] : [s.worker]));
  }

  /**
   * The running worker with the least work: connections and recorded streams (`load +
   * recorders`, known at once), then the least busy (as of its last heartbeat: bitrates differ),
   * then the lowest index. Unavailable if none runs.
   */
  pick(): MediaWorker {
    let best: MediaWorker | null = null;
    for (const worker of this.workers()) if (best === null || lighter(worker, best)) best = worker;
    if (best === null)
      throw new StudioError('Unavailable', 'no media worker is running; try again in a moment');
    return best;
  }

  /** Heap and event-loop figures of the main thread and every running worker. */
  async stats(): Promise<ThreadStats[]> {
    const main = mainThreadStats();
    const workers = await Promise.all(this.workers().map((w) => w.stats().catch(() => null)));
    return [main, ...workers.filter((s): s is ThreadStats => s !== null)];
  }

  /**
   * Starts one worker of this pool's kind and closes it again: null when it started, else why
   * not (its entry missing or failing to load, a thread that never said it was ready). The pool's
   * own workers are untouched; the desktop app asks before it relies on them (Studio.start).
   */
  async probe(): Promise<string | null> {
    try {
      const worker = await MediaWorker.start(this.#workerOptions(0, 0));
      await worker.close(this.#options.closeTimeoutMs);
      return null;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  }

  #workerOptions(index: number, restarts: number): MediaWorkerOptions {
    return {
      index,
      entry: this.#options.entry,
      logger: this.#logger,
      logLevel: this.#options.logLevel,
      allowFaults: this.#options.allowFaults,
      requestTimeoutMs: this.#options.requestTimeoutMs,
      heartbeatMs: this.#options.heartbeatMs,
      missedPings: this.#options.missedPings,
      startTimeoutMs: this.#options.startTimeoutMs,
      restarts,
      queueSlots: this.queueSlots,
    };
  }

  async #startSlot(slot: Slot): Promise<void> {
    Atomics.store(this.queueSlots, slot.index + 1, 0n);
    const worker = await MediaWorker.start(this.#workerOptions(slot.index, slot.restarts));
    if (this.#closed) {
      await worker.close(this.#options.closeTimeoutMs);
      return;
    }
    worker.onListenerError = this.onListenerError;
    // A route to every worker already running (the others connect to this one when they start).
    for (const other of this.workers()) {
      if (other.index === slot.index) continue;
      const { port1, port2 } = new MessageChannel();
      worker.attachPort(other.index, port1);
      other.attachPort(slot.index, port2);
    }
    slot.worker = worker;
    worker.once('died', (reason) => this.#onDied(slot, worker, reason));
    this.safeEmit('workerStarted', worker, slot.restarts);
  }

  #onDied(slot: Slot, worker: MediaWorker, reason: string): void {
    if (slot.worker === worker) slot.worker = null;
    Atomics.store(this.queueSlots, slot.index + 1, 0n);
    this.safeEmit('workerDied', worker, reason);
    if (this.#closed) return;
    const now = Date.now();
    const policy = this.#options.restart;
    slot.deaths = [...slot.deaths.filter((t) => now - t < policy.windowMs), now];
    if (slot.deaths.length >= policy.maxDeaths) {
      slot.failed = true;
      const why = `media worker ${slot.index} died ${slot.deaths.length} times within ${policy.windowMs} ms (last: ${reason}); it stays down`;
      this.#logger.error({ worker: slot.index }, why);
      this.safeEmit('workerFailed', slot.index, why);
      return;
    }
    this.#scheduleRestart(slot);
  }

  #scheduleRestart(slot: Slot): void {
    const policy = this.#options.restart;
    const delay = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (slot.deaths.length - 1));
    slot.timer = setTimeout(() => {
      slot.timer = null;
      if (this.#closed) return;
      slot.restarts++;
      this.#startSlot(slot).catch((error: Error) => {
        this.#logger.error({ err: error, worker: slot.index }, 'media worker restart failed');
        if (this.#closed) return;
        slot.deaths.push(Date.now());
        if (slot.deaths.length >= policy.maxDeaths) {
          slot.failed = true;
          this.safeEmit(
            'workerFailed',
            slot.index,
            `media worker ${slot.index} cannot start: ${error.message}`,
          );
        } else this.#scheduleRestart(slot);
      });
    }, delay);
  }

  /** Closes every worker (each closes what it hosts first). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#stopSlots();
    this.safeEmit('close');
    this.removeAllListeners();
  }
}

/** Whether `a` has less work than `b` (see `WorkerPool.pick`). */
function lighter(a: MediaWorker, b: MediaWorker): boolean {
  const work = a.load + a.recorders - (b.load + b.recorders);
  return work !== 0 ? work < 0 : a.busy < b.busy;
}
