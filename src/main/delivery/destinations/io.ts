import type { FileHandle } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';

/** Read size of upload streams: big reads keep the pipeline full (64 KiB reads are far slower). */
export const STREAM_CHUNK = 4 << 20;

/** A pass-through that reports the running byte count (from `start`) as data flows. */
export function progressTap(start: number, onProgress: (bytes: number) => void): Transform {
  let bytes = start;
  return new Transform({
    readableHighWaterMark: STREAM_CHUNK,
    writableHighWaterMark: STREAM_CHUNK,
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      bytes += chunk.length;
      onProgress(bytes);
      callback(null, chunk);
    },
  });
}

/**
 * Reads `length` bytes at `offset` (a part or block; bounded, so never the whole file), into
 * `into` when given (reused buffers keep memory flat over thousands of parts).
 */
export async function readChunk(
  file: FileHandle,
  offset: number,
  length: number,
  into?: Buffer,
): Promise<Buffer> {
  const buffer =
    into !== undefined && into.length >= length ? into.subarray(0, length) : Buffer.allocUnsafe(length);
  let read = 0;
  while (read < length) {
    const { bytesRead } = await file.read(buffer, read, length - read, offset + read);
    if (bytesRead === 0) throw new Error(`file ended at ${offset + read} bytes, expected ${offset + length}`);
    read += bytesRead;
  }
  return buffer;
}

/**
 * Runs `fn` over items with at most `concurrency` at once; stops starting new ones after a
 * failure. `slot` (0…concurrency-1) names the runner, so each can reuse its own buffer.
 */
export async function runPool<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, slot: number) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0;
  let failure: unknown = null;
  const worker = async (slot: number) => {
    while (failure === null && next < items.length) {
      signal?.throwIfAborted();
      const item = items[next++]!;
      try {
        await fn(item, slot);
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, (_, slot) => worker(slot)));
  if (failure !== null) throw failure;
}

/** `scheme://user@host[:port]/path` of a file on an FTP or SFTP server (never a password). */
export function serverUrl(
  scheme: 'ftp' | 'sftp',
  server: { user: string; host: string; port: number },
  defaultPort: number,
  path: string,
): string {
  const port = server.port === defaultPort ? '' : `:${server.port}`;
  return `${scheme}://${encodeURIComponent(server.user)}@${server.host}${port}${encodeURI(path)}`;
}
