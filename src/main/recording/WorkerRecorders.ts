import type { MediaWorker } from '../workers/MediaWorker';
import type { WorkerPool } from '../workers/WorkerPool';
import type { WorkerRecorder } from './WorkerRecorder';

/** Routes the media workers' recorder events to the recorders' handles on the main thread. */
export class WorkerRecorders {
  readonly #recorders = new Map<string, WorkerRecorder>();
  /** The last write-budget report of each running worker. */
  readonly #budgets = new Map<MediaWorker, { peakBytes: number; totalBytes: number }>();
  /** Bytes written by workers that have ended (the written total never goes back). */
  #retiredBytes = 0;

  constructor(pool: WorkerPool) {
    for (const worker of pool.workers()) this.#attach(worker);
    pool.on('workerStarted', (worker) => this.#attach(worker));
  }

  add(recorder: WorkerRecorder): void {
    this.#recorders.set(recorder.id, recorder);
  }

  remove(recorder: WorkerRecorder): void {
    this.#recorders.delete(recorder.id);
  }

  /** Bytes the workers' recorders have written (as of their last reports). */
  get totalBytes(): number {
    let total = this.#retiredBytes;
    for (const b of this.#budgets.values()) total += b.totalBytes;
    return total;
  }

  /** The highest queue a worker reported. */
  get peakBytes(): number {
    let peak = 0;
    for (const b of this.#budgets.values()) peak = Math.max(peak, b.peakBytes);
    return peak;
  }

  #attach(worker: MediaWorker): void {
    worker.on('recorder.fileStarted', ({ recorderId, file }) =>
      this.#recorders.get(recorderId)?.fileStarted(file),
    );
    worker.on('recorder.fileFinished', ({ recorderId, file }) =>
      this.#recorders.get(recorderId)?.fileFinished(file),
    );
    worker.on('recorder.writeError', ({ recorderId, message, code }) =>
      this.#recorders.get(recorderId)?.writeError(message, code),
    );
    worker.on('recorder.progress', ({ recorders, budget }) => {
      for (const progress of recorders) this.#recorders.get(progress.recorderId)?.progress(progress);
      if (budget !== null) this.#budgets.set(worker, budget);
    });
    worker.once('close', () => {
      this.#retiredBytes += this.#budgets.get(worker)?.totalBytes ?? 0;
      this.#budgets.delete(worker);
      for (const recorder of this.#recorders.values()) if (recorder.worker === worker) recorder.workerDied();
    });
  }
}
