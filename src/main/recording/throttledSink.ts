import { openFileSink, type OpenSink, type WriterSink } from './MatroskaWriter';

/**
 * A disk that takes at most `bytesPerSec` across every file opened through it: the writer's file
 * boundary made slow, for tests and benchmarks of backpressure (`SPOOL_TEST_DISK_BYTES_PER_SEC`).
 */
export function throttledSink(bytesPerSec: number, inner: OpenSink = openFileSink): OpenSink {
  let nextFree = Date.now();
  const wait = async (bytes: number) => {
    const now = Date.now();
    nextFree = Math.max(now, nextFree) + (bytes / bytesPerSec) * 1000;
    const delay = nextFree - now;
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
  };
  return async (path) => {
    const file = await inner(path);
    const sink: WriterSink = {
      async write(buffer, offset, length, position) {
        await wait(length);
        return file.write(buffer, offset, length, position);
      },
      datasync: () => file.datasync(),
      truncate: (length) => file.truncate(length),
      close: () => file.close(),
    };
    return sink;
  };
}
