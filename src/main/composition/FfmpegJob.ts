import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { TypedEmitter } from '../util/TypedEmitter';
import { FfmpegError } from './FfmpegError';

export interface FfmpegJobEvents {
  [key: string]: unknown[];
  /** Seconds of output written so far (from `-progress`). */
  progress: [number];
}

/** Bytes of stderr kept for the error message. */
const STDERR_TAIL = 8192;

/**
 * One ffmpeg process. Reads `-progress pipe:1` for the output time, keeps the tail of stderr
 * for errors, and is cancelled by killing its PID. `done` resolves when ffmpeg exits 0.
 */
export class FfmpegJob extends TypedEmitter<FfmpegJobEvents> {
  readonly done: Promise<void>;
  readonly #child: ChildProcess;
  #stderr = '';
  #cancelled = false;
  #exited = false;
  #closed = false;

  constructor(ffmpegPath: string, args: string[]) {
    super();
    this.#child = spawn(ffmpegPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child.stderr!.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-STDERR_TAIL);
    });
    const lines = createInterface({ input: this.#child.stdout! });
    lines.on('line', (line) => {
      // out_time_us is in microseconds (out_time_ms too, despite its name, in ffmpeg 5.1).
      const match = /^out_time_us=(\d+)$/.exec(line);
      if (match) this.safeEmit('progress', Number(match[1]) / 1e6);
    });
    this.done = new Promise<void>((resolve, reject) => {
      this.#child.once('error', (error) => {
        this.#exited = true;
        reject(new FfmpegError(`ffmpeg could not start: ${error.message}`, '', null, false));
      });
      this.#child.once('close', (code, signal) => {
        this.#exited = true;
        lines.close();
        if (code === 0 && !this.#cancelled) return resolve();
        const stderr = this.#stderr.trim();
        const reason = this.#cancelled
          ? 'ffmpeg was cancelled'
          : `ffmpeg exited with ${code ?? signal}${stderr ? `: ${lastLines(stderr, 6)}` : ''}`;
        reject(new FfmpegError(reason, stderr, code, this.#cancelled));
      });
    });
    // Callers await `done`; an unobserved rejection must not crash the process meanwhile.
    this.done.catch(() => {});
  }

  /** The process id (for logs and tests). */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Kills ffmpeg; `done` rejects with a cancelled FfmpegError. */
  cancel(): void {
    if (this.#exited) return;
    this.#cancelled = true;
    this.#child.kill('SIGKILL');
  }

  /** Kills ffmpeg if it still runs and drops listeners. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.removeAllListeners();
    this.cancel();
  }
}

function lastLines(text: string, count: number): string {
  return text.split('\n').slice(-count).join(' | ');
}
