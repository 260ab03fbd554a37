// Entry of a media worker thread (docs/threads.md). Started by WorkerPool, never imported.
import { performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { StudioError } from '../../shared/errors';
import { createLogger } from '../logger';
import { throttledSink } from '../recording/throttledSink';
import { installWeriftFixes } from '../rooms/weriftFixes';
import { MediaHost } from './MediaHost';
import { PROTOCOL_VERSION, type MediaWorkerData } from './protocol';
import { threadLoadMeter } from './threadLoad';
import { WorkerHost, type Handlers } from './WorkerHost';

if (parentPort === null)
  throw new Error('mediaWorkerThread.ts runs as a worker thread (WorkerPool starts it)');
const data = workerData as MediaWorkerData;
const logger = createLogger({ level: data.logLevel }).child({ thread: `media-${data.index}` });
if (data.protocolVersion !== PROTOCOL_VERSION) {
  // Refuse to run against a main thread built from other sources; the pool reports the exit.
  throw new Error(
    `media worker speaks protocol ${PROTOCOL_VERSION}, the main thread ${data.protocolVersion}`,
  );
}

// Each thread has its own copy of werift's classes: the fixes are installed per thread.
installWeriftFixes();
// The headless entry's test hook (a disk that takes only this many bytes per second) reaches the
// recorders here too: a worker thread sees the process's environment.
const slowDisk = Number(process.env.SPOOL_TEST_DISK_BYTES_PER_SEC ?? '');
const media = new MediaHost(
  logger,
  (event, eventData) => host.notify(event, eventData),
  slowDisk > 0 ? throttledSink(slowDisk) : undefined,
);

// Its recorders' queue counts in the studio's (slot 0 is the main thread's).
if (data.queueSlots !== undefined) media.sharedQueue = { slots: data.queueSlots, index: data.index + 1 };

// Fault points (util/fault.ts): the first worker of an index dies 3 s after the hooked step.
const fault = process.env.SPOOL_FAULT;
if (
  data.restarts === 0 &&
  (fault === 'media.workerDiesWhileRecording' ||
    fault === 'media.workerExitsWhileRecording' ||
    fault === 'media.workerDiesWhileImporting')
) {
  const hook = fault === 'media.workerDiesWhileImporting' ? 'onImported' : 'onRecorderFileStarted';
  media[hook] = () => {
    media[hook] = null;
    setTimeout(() => {
      if (fault === 'media.workerExitsWhileRecording') process.exit(70);
      throw new Error(`fault injection: ${fault}`);
    }, 3000);
  };
}

const load = threadLoadMeter();
/** Busy share between heartbeats (its own reading: `stats` keeps the one `load` makes). */
let sincePing = performance.eventLoopUtilization();

const faultsOnly = (): void => {
  if (!data.allowFaults)
    throw new StudioError('PermissionDenied', 'faults are not allowed in this worker', 'method');
};

const handlers: Handlers = {
  ...media.handlers(),
  ping: () => {
    const busy = performance.eventLoopUtilization(sincePing).utilization;
    sincePing = performance.eventLoopUtilization();
    return { at: Date.now(), busy };
  },
  stats: () => {
    const heap = getHeapStatistics();
    const memory = process.memoryUsage();
    return {
      threadId,
      heapUsed: heap.used_heap_size,
      heapTotal: heap.total_heap_size,
      external: memory.external,
      arrayBuffers: memory.arrayBuffers,
      ...load(),
      hosts: media.counts,
    };
  },
  shutdown: () => {
    media.close();
    return {};
  },
  'fault.throw': ({ message }) => {
    faultsOnly();
    setImmediate(() => {
      throw new Error(message);
    });
    return {};
  },
  'fault.hang': () => {
    faultsOnly();
    // A stuck worker: it never answers this request, and only the heartbeat notices it.
    for (;;);
  },
};

if (data.restarts === 0 && fault === 'media.recorderRefused') {
  const start = handlers['recorder.start']!;
  let refused = false;
  handlers['recorder.start'] = (init) => {
    if (refused) return start(init);
    refused = true;
    throw new StudioError('NotFound', `fault injection: ${fault} (stream ${init.streamId})`, 'streamId');
  };
}

const host = new WorkerHost(parentPort, handlers, logger);

/**
 * How long a worker that hit an uncaught error may take to finalize its recordings before it
 * ends anyway (the main thread then finalizes what reached the disk). Well under the heartbeat's
 * patience (3 missed pings of 2 s), which would end it as stuck.
 */
const SALVAGE_MS = 2000;
let failing = false;
// An uncaught error (werift's, ours, an unhandled rejection) ends the worker, as it would without
// this handler — but first its recorders write what they hold and finalize their files, so the
// take loses nothing it had received (docs/threads.md, "When a worker dies"). Nothing else is
// resumed: the worker ends either way, and its guests reconnect to its successor.
process.on('uncaughtException', (error) => {
  if (failing) {
    logger.fatal({ err: error }, 'media worker failed again while finalizing its recordings');
    process.exit(1);
  }
  failing = true;
  logger.fatal({ err: error }, 'media worker failed: it finalizes its recordings, then ends');
  host.notify('failing', { message: error.message });
  setTimeout(() => {
    logger.error(
      { withinMs: SALVAGE_MS },
      'the failing media worker could not finalize its recordings in time',
    );
    process.exit(1);
  }, SALVAGE_MS);
  void media.salvage().then(
    (done) => {
      logger.info(done, 'the failing media worker finalized its recordings');
      process.exit(1);
    },
    () => process.exit(1),
  );
});
host.onPort = (peerIndex, port) => media.setRoute(peerIndex, port);
host.notify('ready', { pid: process.pid, threadId });
