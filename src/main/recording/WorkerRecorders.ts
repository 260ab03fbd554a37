import type { MediaWorker } from '../workers/MediaWorker';
import type { WorkerPool } from '../workers/WorkerPool';
import type { WorkerRecorder } from './WorkerRecorder';

/** Routes the media workers' recorder events to the recorders' handles on the main thread. */
export class WorkerRecorders {
  readonly #recorders = new Map<string, WorkerRecorder>();

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
    worker.on('recorder.progress', ({ recorders }) => {
      for (const progress of recorders) this.#recorders.get(progress.recorderId)?.progress(progress);
    });
    worker.once('close', () => {
      for (const recorder of this.#recorders.values()) if (recorder.worker === worker) recorder.workerDied();
    });
  }
}
