import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setPriority } from 'node:os';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import { TypedEmitter } from '../util/TypedEmitter';
import { FfmpegError } from './FfmpegError';

export interface FfmpegJobEvents {
  [key: string]: unknown[];
  /** Seconds of output written so far (from `-progress`). */
  progress: [number];
}

/** Bytes of stderr kept for the error message. */
const STDERR_TAIL = 8192;

export interface FfmpegJobOptions {
  /** Extra pipes the parent writes to, ffmpeg's `pipe:3`, `pipe:4`, … (inputs). */
  inputPipes?: number;
  /** Run at this nice level (0–19): below the recorder, which must never wait for a composition. */
  nice?: number;
}

const NICE = '/usr/bin/nice';

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

  constructor(ffmpegPath: string, args: string[], options: FfmpegJobOptions = {}) {
    super();
    const pipes = Array.from({ length: options.inputPipes ?? 0 }, () => 'pipe' as const);
    const stdio = ['ignore', 'pipe', 'pipe', ...pipes] as const;
    const nice = options.nice ?? 0;
    // Through nice(1) the level holds from the first instruction, so every thread ffmpeg starts
    // (decoders, x264) inherits it; setPriority after spawn would miss threads made meanwhile.
    this.#child =
      nice > 0 && existsSync(NICE)
        ? spawn(NICE, ['-n', String(nice), ffmpegPath, ...args], { stdio: [...stdio] })
        : spawn(ffmpegPath, args, { stdio: [...stdio] });
    if (nice > 0 && !existsSync(NICE) && this.#child.pid !== undefined) {
      try {
        setPriority(this.#child.pid, nice);
      } catch {
        // best effort: the process may already have ended
      }
    }
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

  /** The writable end of ffmpeg's `pipe:<fd>` (fd 3 is the first extra pipe). */
  pipe(fd: number): Writable {
    return this.#child.stdio[fd] as Writable;
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
