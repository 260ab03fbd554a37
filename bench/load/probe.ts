/**
 * Preloaded (`--import`) into the studio process by the benches: measures the main thread's
 * event-loop delay and reports it with heap and memory figures over the IPC channel. It changes
 * nothing in the studio; without an IPC channel it does nothing.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';

export interface ThreadHeap {
  thread: string;
  heapUsedMb: number;
  heapTotalMb: number;
  /** Since the previous reading (the benches read once as their window opens): busy share, timer delay. */
  eventLoopUtilization?: number;
  eventLoopDelayMsP99?: number;
  eventLoopDelayMsMax?: number;
}

export interface ProbeStats {
  /** Main-thread event-loop delay since the last reset, ms. */
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  /** The main thread's heap (the benches read every thread's from the studio: `threadHeaps`). */
  heapByThread: ThreadHeap[];
  rssMb: number;
  externalMb: number;
  arrayBuffersMb: number;
}

/** The probe timer's period (ms): the studio's own (`src/main/workers/threadLoad.ts`), not more wake-ups. */
const RESOLUTION_MS = 50;

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

if (process.send !== undefined) {
  const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  delay.enable();
  // The histogram holds the intervals between the probe timer's runs: less its period, the delay.
  const late = (ns: number) => Math.max(0, ns / 1e6 - RESOLUTION_MS);
  process.on('message', (message: { id: number; request: { op: string; reset?: boolean } }) => {
    if (message?.request?.op !== 'stats') return;
    const heap = getHeapStatistics();
    const memory = process.memoryUsage();
    const stats: ProbeStats = {
      eventLoopDelayMs: {
        p50: late(delay.percentile(50)),
        p99: late(delay.percentile(99)),
        max: late(delay.max),
      },
      heapByThread: [
        { thread: 'main', heapUsedMb: mb(heap.used_heap_size), heapTotalMb: mb(heap.total_heap_size) },
      ],
      rssMb: mb(memory.rss),
      externalMb: mb(memory.external),
      arrayBuffersMb: mb(memory.arrayBuffers),
    };
    if (message.request.reset) delay.reset();
    process.send!({ id: message.id, ok: true, result: stats });
  });
  // The channel must not keep the studio alive once it has closed everything.
  process.channel?.unref();
}
