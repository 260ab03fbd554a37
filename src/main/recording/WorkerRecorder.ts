import { randomUUID } from 'node:crypto';
import type { FramesDropped } from '../../shared/archive';
import type { Logger } from '../logger';
import { StudioError } from '../../shared/errors';
import type { MediaWorker } from '../workers/MediaWorker';
import type { RecorderInit, RecorderProgress } from '../workers/protocol';
import type { RecordedFile } from './StreamRecorder';

/** What the recording service uses of a stream recorder, wherever it runs. */
export interface Recorder {
  readonly streamId: string;
  readonly bytesWritten: number;
  readonly framesDropped: Partial<Record<'audio' | 'video', FramesDropped>>;
  readableBytes(filename: string): number | null;
  stop(): Promise<RecordedFile[]>;
}

export interface WorkerRecorderCallbacks {
  onFileStarted: (file: RecordedFile) => void;
  onFileFinished: (file: RecordedFile) => void;
  onWriteError: (error: Error) => void;
  /**
   * The worker refused to start the recorder (it answered with an error: the stream is not
   * there, or a recorder of that id is): nothing of the stream is recorded by this handle.
   */
  onStartRefused: (error: Error) => void;
  /**
   * Finalizes a file its worker left unfinished (the worker died): what reached the disk is kept,
   * its duration and index rewritten, as crash recovery does.
   */
  repair: (file: RecordedFile) => Promise<RecordedFile>;
}

/** How long a worker may take to finalize a recorder's files. */
const STOP_TIMEOUT_MS = 60_000;

/**
 * The main thread's handle of a `StreamRecorder` on the media worker that receives the stream
 * (docs/threads.md): the packet path and the file writes stay there; file events come back as
 * the same callbacks, and the counters from the worker's progress reports (about 2 Hz).
 */
export class WorkerRecorder implements Recorder {
  readonly id = randomUUID();
  readonly streamId: string;
  readonly worker: MediaWorker;
  readonly #callbacks: WorkerRecorderCallbacks;
  readonly #logger: Logger;
  #progress: RecorderProgress | null = null;
  /** Files opened and not yet finished: what is left on disk if the worker dies. */
  readonly #open = new Map<string, RecordedFile>();
  /** Files the worker finished (splits, and all of them when a failing worker finalized them). */
  readonly #finished: RecordedFile[] = [];
  #stopping: Promise<RecordedFile[]> | null = null;
  #workerGone = false;
  /** The worker refused the start: there is nothing there to stop. */
  #refused = false;

  constructor(
    worker: MediaWorker,
    init: Omit<RecorderInit, 'recorderId'>,
    callbacks: WorkerRecorderCallbacks,
    logger: Logger,
  ) {
    this.worker = worker;
    this.streamId = init.streamId;
    this.#callbacks = callbacks;
    this.#logger = logger;
    worker.recorders++;
    worker.request('recorder.start', { recorderId: this.id, ...init }).catch((error: Error) => {
      // A dead worker is `workerDied`'s (it is told before the pending requests reject); a closed
      // or slow one (`Unavailable`: the studio closing, a request deadline) may still have the
      // recorder, so a stop asks it. Anything else is the worker's own refusal.
      if (this.#workerGone) return;
      if (error instanceof StudioError && error.code === 'Unavailable') {
        this.#logger.warn({ err: error }, 'the media worker did not confirm the recorder');
        return;
      }
      this.#refused = true;
      this.#callbacks.onStartRefused(error);
    });
  }

  get bytesWritten(): number {
    return this.#progress?.bytesWritten ?? 0;
  }

  get framesDropped(): Partial<Record<'audio' | 'video', FramesDropped>> {
    return this.#progress?.framesDropped ?? {};
  }

  /** Readable bytes as of the worker's last report (never ahead of the disk). */
  readableBytes(filename: string): number | null {
    if (!this.#open.has(filename)) return null;
    return this.#progress?.readable[filename] ?? 0;
  }

  /** @internal Events routed from the worker. */
  fileStarted(file: RecordedFile): void {
    this.#open.set(file.filename, file);
    this.#callbacks.onFileStarted(file);
  }

  fileFinished(file: RecordedFile): void {
    this.#open.delete(file.filename);
    this.#finished.push(file);
    this.#callbacks.onFileFinished(file);
  }

  writeError(message: string, code?: string): void {
    const error: NodeJS.ErrnoException = new Error(message);
    if (code !== undefined) error.code = code;
    this.#callbacks.onWriteError(error);
  }

  progress(progress: RecorderProgress): void {
    this.#progress = progress;
  }

  /** The worker died: the files it was writing stay on disk as they are (not finalized). */
  workerDied(): void {
    this.#workerGone = true;
  }

  stop(): Promise<RecordedFile[]> {
    if (this.#stopping === null) this.worker.recorders--;
    this.#stopping ??= (async () => {
      if (this.#refused) return [];
      if (!this.#workerGone) {
        try {
          const { files } = await this.worker.request(
            'recorder.stop',
            { recorderId: this.id },
            { timeoutMs: STOP_TIMEOUT_MS },
          );
          return files;
        } catch (error) {
          this.#logger.error({ err: error }, 'the media worker could not finalize the recording');
        }
      }
      // What reached the disk before the worker ended is kept and finalized here, as crash
      // recovery does (docs/threads.md, "When a worker dies"); the archive records on. Like the
      // worker's answer, the list holds every file of the recorder: the ones it finished too.
      const files: RecordedFile[] = [...this.#finished];
      for (const file of this.#open.values()) {
        this.#logger.warn({ file: file.filename }, 'media worker ended: finalizing what reached the disk');
        files.push(await this.#callbacks.repair(file));
      }
      this.#open.clear();
      return files;
    })();
    return this.#stopping;
  }
}
