import { mkdir, open, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { LocalTargetConfig } from '../../../shared/targets';
import { DestinationError, nodeReason, toDestinationError } from '../DestinationError';
import {
  PART_SUFFIX,
  type Destination,
  type TempFileResume,
  type UploadJob,
  type UploadResult,
} from './Destination';
import { readChunk } from './io';

/** Bytes per read and write: big enough that a local copy runs near `cp` speed. */
const COPY_CHUNK = 8 << 20;

/** Writes all of `chunk` at `position` (a write may take fewer bytes than asked). */
async function writeAll(file: FileHandle, chunk: Buffer, position: number): Promise<void> {
  for (let written = 0; written < chunk.length;) {
    written += (await file.write(chunk, written, chunk.length - written, position + written)).bytesWritten;
  }
}

/**
 * Copies the job's file from `start` into `path`, reading the next chunk while the last one is
 * written (two buffers), reporting progress, then syncs it.
 */
async function copyRange(job: UploadJob, path: string, start: number): Promise<void> {
  const source = await open(job.localPath, 'r');
  const target = await open(path, start > 0 ? 'r+' : 'w');
  let writing: Promise<void> = Promise.resolve();
  try {
    const buffers = [Buffer.allocUnsafe(COPY_CHUNK), Buffer.allocUnsafe(COPY_CHUNK)];
    for (let offset = start, i = 0; offset < job.size; i++) {
      job.signal.throwIfAborted();
      const chunk = await readChunk(source, offset, Math.min(COPY_CHUNK, job.size - offset), buffers[i % 2]);
      // The write before this one used the other buffer, which the next read fills.
      await writing;
      const end = offset + chunk.length;
      writing = writeAll(target, chunk, offset).then(() => job.onProgress(end));
      offset = end;
    }
    await writing;
    await target.truncate(job.size);
    // Durable before it becomes visible under the final name.
    await target.sync();
  } finally {
    // An abort leaves the last write in flight: let it end before the file is closed.
    await writing.catch(() => {});
    await Promise.all([source.close(), target.close()]);
  }
}

/** A folder on this machine or a mounted share. */
export class LocalDestination implements Destination {
  readonly #config: LocalTargetConfig;

  constructor(config: LocalTargetConfig) {
    this.#config = config;
  }

  #path(remotePath: string): string {
    const base = resolve(this.#config.path);
    const full = resolve(base, remotePath);
    if (full !== base && !full.startsWith(base + sep)) {
      throw new DestinationError('upload', 'config', `path ${remotePath} leaves the target folder ${base}`);
    }
    return full;
  }

  async connect(): Promise<void> {
    // The folder is never created: a share that is not mounted must not fill the local disk.
    const info = await stat(this.#config.path).catch((error: unknown) => {
      const reason = nodeReason(error) ?? 'unknown';
      throw new DestinationError(
        'connect',
        reason,
        reason === 'not-found'
          ? `folder ${this.#config.path} does not exist (is the drive mounted?)`
          : `cannot open folder ${this.#config.path}: ${(error as Error).message}`,
        { cause: error },
      );
    });
    if (!info.isDirectory())
      throw new DestinationError('connect', 'not-found', `${this.#config.path} is not a folder`);
  }

  async upload(job: UploadJob): Promise<UploadResult> {
    await this.connect();
    const final = this.#path(job.remotePath);
    const temp = final + PART_SUFFIX;
    try {
      await mkdir(dirname(final), { recursive: true });
      const existing =
        (job.resume as TempFileResume).partial === true
          ? await stat(temp).then(
              (s) => s.size,
              () => 0,
            )
          : 0;
      // Resume an earlier attempt's temp file when it is a prefix of the file (it grows in order).
      const start = existing > 0 && existing <= job.size ? existing : 0;
      job.saveResume({ partial: true } satisfies TempFileResume);
      job.onProgress(start);
      await copyRange(job, temp, start);
    } catch (error) {
      throw toDestinationError(error, 'upload', `writing ${temp}`);
    }
    const written = (await stat(temp)).size;
    if (written !== job.size) {
      throw new DestinationError('verify', 'checksum', `${temp} has ${written} bytes, expected ${job.size}`);
    }
    await rename(temp, final).catch((error: unknown) => {
      throw toDestinationError(error, 'upload', `renaming ${temp} to ${final}`);
    });
    return { url: this.urlOf(job.remotePath) };
  }

  async write(remotePath: string, data: Buffer): Promise<void> {
    const path = this.#path(remotePath);
    await mkdir(dirname(path), { recursive: true });
    const handle = await open(path, 'w');
    try {
      await handle.writeFile(data);
    } finally {
      await handle.close();
    }
  }

  read(remotePath: string): Promise<Buffer> {
    return readFile(this.#path(remotePath));
  }

  remove(remotePath: string): Promise<void> {
    return rm(this.#path(remotePath));
  }

  async discard(remotePath: string): Promise<void> {
    await rm(this.#path(remotePath) + PART_SUFFIX, { force: true });
  }

  urlOf(remotePath: string): string {
    return pathToFileURL(this.#path(remotePath)).href;
  }

  details(): Record<string, never> {
    return {};
  }

  async close(): Promise<void> {}
}
