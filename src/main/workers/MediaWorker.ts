import { Worker, type MessagePort } from 'node:worker_threads';
import { StudioError } from '../../shared/errors';
import type { Logger } from '../logger';
import { TypedEmitter } from '../util/TypedEmitter';
import {
  errorFromBody,
  isMessage,
  PROTOCOL_VERSION,
  type MediaWorkerData,
  type NotificationMessage,
  type PortMessage,
  type ResponseMessage,
  type ThreadStats,
  type WorkerEvents,
  type WorkerMethod,
  type WorkerMethods,
} from './protocol';

/**
 * The V8 young generation of a media worker, MB. A worker allocates per packet and frees at
 * once, and V8's default (up to 16 MB semi-spaces) lets the new space grow to ~50 MB of
 * resident memory a thread for nothing. Measured (`bench/record`, one worker, docs/threads.md
 * "Memory"): 16 streams at 720p, whole studio peak RSS 319 MB by default, 258–262 MB at 8,
 * 229–289 MB at 4, the studio's CPU within the runs' noise; 8 streams at 320×240: 220 → 209 MB
 * at 8, 190 MB at 4. Smaller scavenges more often: at 4 the collector's share of the worker's
 * time was 10–12 % where it was 6–7 % at 8 (8 small streams), so 8. A command-line
 * `--max-semi-space-size` (the studio's own `STUDIO_V8_FLAGS`) takes precedence in every isolate:
 * there a worker's new space is ~4 MB (docs/threads.md, "Memory").
 */
const YOUNG_GENERATION_MB = 8;

/** Events of a worker handle: the worker's notifications, and its end. */
export type MediaWorkerEvents = { [E in keyof WorkerEvents]: [WorkerEvents[E]] } & {
  [key: string]: unknown[];
  /** The thread ended without being asked to (exit, uncaught error, missed heartbeats). */
  died: [reason: string];
  /** The handle closed (after `died`, or after `close()`). */
  close: [];
};

export interface MediaWorkerOptions {
  index: number;
  entry: URL;
  logger: Logger;
  logLevel: string;
  allowFaults: boolean;
  /** Default deadline of a request. */
  requestTimeoutMs: number;
  /** Interval of the heartbeat `ping`; the worker is dead after `missedPings` unanswered. */
  heartbeatMs: number;
  missedPings: number;
  /** How long the worker may take to load and say `ready`. */
  startTimeoutMs: number;
  /** How many times this index was restarted before. */
  restarts: number;
  /** The studio's write-queue slots (see `MediaWorkerData.queueSlots`). */
  queueSlots?: BigInt64Array;
}

interface Pending {
  method: WorkerMethod;
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * The main thread's handle of one media worker thread: typed requests with ids and deadlines,
 * the worker's notifications as events, a heartbeat, and `died` when the thread ends on its
 * own. Every pending request rejects (`Unavailable`) when the worker dies or closes.
 */
export class MediaWorker extends TypedEmitter<MediaWorkerEvents> {
  readonly index: number;
  readonly name: string;
  readonly #worker: Worker;
  readonly #options: MediaWorkerOptions;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #heartbeat: NodeJS.Timeout | null = null;
  #missed = 0;
  #threadId = -1;
  #closed = false;
  #closing = false;
  /** The uncaught error the worker said it failed with (`failing`), if it did. */
  #failure: string | null = null;
  /** Connections placed on this worker (peers and WHIP sessions); rooms spill on it. */
  load = 0;
  /** Streams recorded on this worker (each a `WorkerRecorder`). */
  recorders = 0;
  /** The share of time (0–1) the worker was busy between its last two heartbeats. */
  busy = 0;

  private constructor(options: MediaWorkerOptions) {
    super();
    this.index = options.index;
    this.name = `media-${options.index}`;
    this.#options = options;
    const data: MediaWorkerData = {
      index: options.index,
      protocolVersion: PROTOCOL_VERSION,
      allowFaults: options.allowFaults,
      logLevel: options.logLevel,
      restarts: options.restarts,
      ...(options.queueSlots !== undefined ? { queueSlots: options.queueSlots } : {}),
    };
    this.#worker = new Worker(options.entry, {
      workerData: data,
      name: this.name,
      resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
    });
    this.#worker.on('message', (message: unknown) => this.#receive(message));
    this.#worker.on('error', (error) => this.#died(`uncaught error: ${error.message}`));
    // A worker that failed (`failing`) finalizes its recordings, then exits: its error is the reason.
    this.#worker.on('exit', (code) =>
      this.#died(this.#failure !== null ? `uncaught error: ${this.#failure}` : `exited with code ${code}`),
    );
  }

  /** Starts a worker thread and waits until it is ready. */
  static async start(options: MediaWorkerOptions): Promise<MediaWorker> {
    const worker = new MediaWorker(options);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        void worker.close(0);
        reject(
          new StudioError(
            'Unavailable',
            `media worker ${options.index} did not start within ${options.startTimeoutMs} ms`,
          ),
        );
      }, options.startTimeoutMs);
      worker.once('ready', ({ threadId }) => {
        clearTimeout(timer);
        worker.#threadId = threadId;
        resolve();
      });
      worker.once('died', (reason) => {
        clearTimeout(timer);
        reject(new StudioError('Unavailable', `media worker ${options.index} failed to start: ${reason}`));
      });
    });
    worker.#heartbeat = setInterval(() => worker.#beat(), options.heartbeatMs);
    worker.#heartbeat.unref();
    return worker;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get threadId(): number {
    return this.#threadId;
  }

  /** Sends a request; rejects with the worker's StudioError, or `Unavailable` on timeout or death. */
  request<M extends WorkerMethod>(
    method: M,
    params: WorkerMethods[M]['params'],
    options: { timeoutMs?: number } = {},
  ): Promise<WorkerMethods[M]['result']> {
    if (this.#closed || this.#closing)
      return Promise.reject(new StudioError('Unavailable', `media worker ${this.index} is closed`));
    const id = this.#nextId++;
    const timeoutMs = options.timeoutMs ?? this.#options.requestTimeoutMs;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(
          new StudioError(
            'Unavailable',
            `media worker ${this.index} did not answer ${method} within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      this.#pending.set(id, { method, resolve: resolve as (r: unknown) => void, reject, timer });
      this.#worker.postMessage({ v: PROTOCOL_VERSION, kind: 'request', id, method, params });
    });
  }

  /** Gives the worker its end of the route to another worker (docs/threads.md). */
  attachPort(peerIndex: number, port: MessagePort): void {
    if (this.#closed || this.#closing) {
      port.close();
      return;
    }
    const message: PortMessage = { v: PROTOCOL_VERSION, kind: 'port', peerIndex, port };
    this.#worker.postMessage(message, [port]);
  }

  /** Heap and event-loop figures of the thread. */
  async stats(): Promise<ThreadStats> {
    const stats = await this.request('stats', {});
    return { name: this.name, ...stats };
  }

  #receive(message: unknown): void {
    if (!isMessage(message) || message.v !== PROTOCOL_VERSION || message.kind === 'request') {
      this.#options.logger.warn({ worker: this.index }, 'media worker sent a message outside the protocol');
      return;
    }
    if (message.kind === 'response') this.#settle(message);
    else {
      const notification = message as NotificationMessage;
      if (notification.event === 'failing') {
        this.#failure = (notification.data as WorkerEvents['failing']).message;
        this.#options.logger.error(
          { worker: this.index, error: this.#failure },
          'media worker failed: it finalizes its recordings, then ends',
        );
      }
      (this.safeEmit as (event: string, data: unknown) => boolean)(notification.event, notification.data);
    }
  }

  #settle(response: ResponseMessage): void {
    const pending = this.#pending.get(response.id);
    if (pending === undefined) return; // timed out already
    this.#pending.delete(response.id);
    clearTimeout(pending.timer);
    if (response.ok) pending.resolve(response.result);
    else pending.reject(errorFromBody(response.error));
  }

  #beat(): void {
    if (this.#missed >= this.#options.missedPings) {
      this.#died(`no answer to ${this.#missed} heartbeats`);
      return;
    }
    this.#missed++;
    this.request('ping', {}, { timeoutMs: this.#options.heartbeatMs * this.#options.missedPings }).then(
      ({ busy }) => {
        this.#missed = 0;
        this.busy = busy;
      },
      () => {},
    );
  }

  #rejectAll(reason: string): void {
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(
        new StudioError('Unavailable', `media worker ${this.index} ${reason} (during ${pending.method})`),
      );
    }
    this.#pending.clear();
  }

  #died(reason: string): void {
    if (this.#closed || this.#closing) return;
    this.#options.logger.error({ worker: this.index, reason }, 'media worker died');
    this.#finish(reason);
    this.safeEmit('died', reason);
    this.safeEmit('close');
    this.removeAllListeners();
    // A stuck thread is still running: end it (terminate on an exited worker is a no-op).
    void this.#worker.terminate().catch(() => {});
  }

  #finish(reason: string): void {
    this.#closed = true;
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat);
    this.#rejectAll(reason);
  }

  /** Asks the worker to close what it hosts, then ends the thread. Idempotent. */
  async close(timeoutMs = 5000): Promise<void> {
    if (this.#closed || this.#closing) return;
    this.#closing = true;
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat);
    const id = this.#nextId++;
    const done = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.#pending.set(id, {
        method: 'shutdown',
        resolve: () => resolve(),
        reject: () => resolve(),
        timer,
      });
      try {
        this.#worker.postMessage({
          v: PROTOCOL_VERSION,
          kind: 'request',
          id,
          method: 'shutdown',
          params: {},
        });
      } catch {
        resolve();
      }
    });
    await done;
    this.#finish('closed');
    await this.#worker.terminate().catch(() => {});
    this.safeEmit('close');
    this.removeAllListeners();
  }
}
