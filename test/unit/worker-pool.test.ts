import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { StudioError } from '../../src/shared/errors';
import { createLogger } from '../../src/main/logger';
import type { MediaWorker } from '../../src/main/workers/MediaWorker';
import { WorkerPool, type WorkerPoolEvents, type WorkerPoolOptions } from '../../src/main/workers/WorkerPool';
import { threadLoadMeter } from '../../src/main/workers/threadLoad';
import { mediaWorkerEntry } from '../../src/main/workers/workerEntry';
import { tempDir } from '../helpers/tmp';

const logger = createLogger({ level: 'silent' });

/** The next emission of a pool event. */
const next = <K extends keyof WorkerPoolEvents & string>(
  pool: WorkerPool,
  event: K,
): Promise<WorkerPoolEvents[K]> => new Promise((resolve) => pool.once(event, (...args) => resolve(args)));

/** Waits for an event with a deadline (a worker that never restarts fails the test, not hangs it). */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

describe('media worker pool (real worker threads)', () => {
  let pool: WorkerPool;
  const make = (options: Partial<WorkerPoolOptions> = {}): WorkerPool =>
    new WorkerPool({
      size: 2,
      logger,
      logLevel: 'silent',
      allowFaults: true,
      heartbeatMs: 200,
      missedPings: 3,
      restart: { baseDelayMs: 50, maxDelayMs: 200, maxDeaths: 3, windowMs: 60_000 },
      ...options,
    });

  beforeEach(() => {
    pool = make();
  });

  afterEach(async () => {
    await pool.close();
  });

  it('starts one thread per worker and answers requests on each', async () => {
    await pool.start();
    const workers = pool.workers();
    assert.equal(workers.length, 2);
    assert.notEqual(workers[0]!.threadId, workers[1]!.threadId);
    for (const worker of workers) {
      const { at, busy } = await worker.request('ping', {});
      assert.ok(Math.abs(Date.now() - at) < 10_000);
      assert.ok(busy >= 0 && busy <= 1, `busy ${busy}`);
    }
  });

  it("keeps each worker's busy share from its heartbeats (room placement spills on it)", async () => {
    await pool.start();
    const [worker] = pool.workers();
    // The heartbeat (200 ms here) carries the share; an idle worker's is small but measured.
    const deadline = Date.now() + 5000;
    while (worker!.busy === 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    const busy = worker!.busy;
    assert.ok(busy > 0 && busy < 0.5, `idle worker busy ${busy} (0: no heartbeat carried it within 5 s)`);
  });

  it('starts no thread until asked, and starts once however often it is asked', async () => {
    assert.equal(pool.started, false);
    assert.deepEqual(pool.workers(), []);
    assert.throws(() => pool.pick(), /no media worker is running/);
    const started = new Set<number>();
    pool.on('workerStarted', (worker) => started.add(worker.threadId));
    // Two guests joining at once wait for the same start.
    await Promise.all([pool.start(), pool.start()]);
    await pool.start();
    assert.equal(pool.started, true);
    assert.equal(started.size, 2);
    assert.deepEqual(
      pool
        .workers()
        .map((w) => w.threadId)
        .sort(),
      [...started].sort(),
    );
  });

  it('leaves no thread after a start that failed, and starts on the next call', async () => {
    const dir = tempDir();
    // A worker entry that fails as it loads (as a thread that cannot get its memory would), then
    // the real one.
    const entry = join(dir.path, 'entry.mjs');
    writeFileSync(entry, "throw new Error('no memory for the media worker');\n");
    const flaky = make({ entry: pathToFileURL(entry) });
    try {
      const started: number[] = [];
      flaky.on('workerStarted', (worker) => started.push(worker.index));
      await assert.rejects(flaky.start(), /failed to start: .*no memory for the media worker/);
      assert.equal(flaky.started, false);
      assert.deepEqual(flaky.workers(), []);
      assert.throws(() => flaky.pick(), /no media worker is running/);
      writeFileSync(entry, `import ${JSON.stringify(mediaWorkerEntry().href)};\n`);
      await within(flaky.start(), 20_000, 'the second start');
      assert.deepEqual(
        flaky.workers().map((w) => w.index),
        [0, 1],
      );
      assert.deepEqual(started.sort(), [0, 1]);
      await flaky.worker(1)!.request('ping', {});
    } finally {
      await flaky.close();
      dir.remove();
    }
  });

  it('reports the heap and event-loop load of the main thread and of every worker', async () => {
    await pool.start();
    const stats = await pool.stats();
    assert.deepEqual(
      stats.map((s) => s.name),
      ['main', 'media-0', 'media-1'],
    );
    assert.equal(new Set(stats.map((s) => s.threadId)).size, 3);
    for (const s of stats) {
      assert.ok(s.heapUsed > 0 && s.heapUsed <= s.heapTotal, `${s.name} heap ${s.heapUsed}/${s.heapTotal}`);
      assert.ok(s.eventLoopUtilization >= 0 && s.eventLoopUtilization <= 1);
      assert.ok(
        s.eventLoopDelayMs.p99 >= 0 && s.eventLoopDelayMs.p99 <= s.eventLoopDelayMs.max,
        `${s.name} delay ${JSON.stringify(s.eventLoopDelayMs)}`,
      );
    }
  });

  it("measures how late a blocked thread's timers ran, since the previous reading", async () => {
    const read = threadLoadMeter();
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Blocked 200 ms: the probe (every 50 ms) whose turn falls in it runs 150–200 ms late.
    const until = Date.now() + 200;
    while (Date.now() < until);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const blocked = read();
    assert.ok(blocked.eventLoopDelayMs.max >= 100, `delay ${JSON.stringify(blocked.eventLoopDelayMs)}`);
    assert.ok(blocked.eventLoopUtilization > 0.4, `utilization ${blocked.eventLoopUtilization}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const calm = read();
    assert.ok(calm.eventLoopDelayMs.max < 100, `after: ${JSON.stringify(calm.eventLoopDelayMs)}`);
  });

  it('passes a StudioError from the worker back with its code and field', async () => {
    const strict = make({ size: 1, allowFaults: false });
    try {
      await strict.start();
      await assert.rejects(strict.worker(0)!.request('fault.throw', { message: 'x' }), (error: unknown) => {
        assert.ok(error instanceof StudioError);
        assert.equal(error.code, 'PermissionDenied');
        assert.equal(error.field, 'method');
        return true;
      });
      // The refused fault did nothing: the worker still answers.
      await strict.worker(0)!.request('ping', {});
    } finally {
      await strict.close();
    }
  });

  it('picks the worker with the least work (connections and recorders), then the least busy, then the lowest index', async () => {
    await pool.start();
    const [first, second] = [pool.worker(0)!, pool.worker(1)!];
    // Heartbeats set `busy` (every 200 ms here); the rest of this test runs between two.
    first.busy = second.busy = 0;
    assert.equal(pool.pick().index, 0);
    first.load = 3;
    assert.equal(pool.pick().index, 1);
    second.load = 3;
    assert.equal(pool.pick().index, 0);
    // A recorded stream is work too.
    first.recorders = 2;
    assert.equal(pool.pick().index, 1);
    second.recorders = 2;
    // Equal work: the less busy one.
    first.busy = 0.6;
    second.busy = 0.2;
    assert.equal(pool.pick().index, 1);
    second.busy = 0.7;
    assert.equal(pool.pick().index, 0);
  });

  it('restarts a worker that threw, rejects its pending requests, and keeps the others', async () => {
    await pool.start();
    const dying = pool.worker(1)!;
    const other = pool.worker(0)!;
    const died = next(pool, 'workerDied');
    const restarted = new Promise<[MediaWorker, number]>((resolve) =>
      pool.on('workerStarted', (worker, restarts) => resolve([worker, restarts])),
    );
    // What the worker had queued for the disk (its slot of the studio's write queue) goes with it.
    Atomics.store(pool.queueSlots, 2, 5000n);
    Atomics.store(pool.queueSlots, 1, 700n);
    await dying.request('fault.throw', { message: 'boom in werift' });
    const [deadWorker, reason] = await within(died, 10_000, 'workerDied');
    assert.equal(Atomics.load(pool.queueSlots, 2), 0n, 'the dead worker’s queue is no longer counted');
    assert.equal(Atomics.load(pool.queueSlots, 1), 700n, 'the other worker’s stays');
    assert.equal(deadWorker, dying);
    assert.match(reason, /boom in werift/);
    assert.ok(dying.closed);
    await assert.rejects(dying.request('ping', {}), /closed/);
    const [fresh, restarts] = await within(restarted, 10_000, 'the restart');
    assert.equal(fresh.index, 1);
    assert.equal(restarts, 1);
    assert.notEqual(fresh, dying);
    assert.equal(pool.worker(1), fresh);
    await fresh.request('ping', {});
    assert.equal(pool.worker(0), other, 'the other worker was not touched');
    await other.request('ping', {});
  });

  it('declares a stuck worker dead by its missed heartbeats and restarts it', async () => {
    await pool.start();
    const stuck = pool.worker(0)!;
    const died = next(pool, 'workerDied');
    // The request that hangs the worker is still waiting: it is rejected when the worker is declared dead.
    const pending = stuck.request('fault.hang', {}, { timeoutMs: 60_000 });
    const [, reason] = await within(died, 15_000, 'workerDied');
    assert.match(reason, /heartbeats/);
    await assert.rejects(
      pending,
      (error: unknown) => error instanceof StudioError && error.code === 'Unavailable',
    );
    const restarted = await within(next(pool, 'workerStarted'), 10_000, 'the restart');
    assert.equal(restarted[0].index, 0);
    await restarted[0].request('ping', {});
  });

  it('gives up on a worker index that keeps dying, and picks the others', async () => {
    await pool.start();
    const failed = next(pool, 'workerFailed');
    const kill = async () => {
      const worker = pool.worker(1);
      if (worker !== null) await worker.request('fault.throw', { message: 'again' }).catch(() => {});
    };
    pool.on('workerStarted', (worker) => {
      if (worker.index === 1) void kill();
    });
    await kill();
    const [index, why] = await within(failed, 15_000, 'workerFailed');
    assert.equal(index, 1);
    assert.match(why, /3 times/);
    assert.equal(pool.worker(1), null);
    assert.equal(pool.pick().index, 0);
  });

  it('times out a request the worker never answers, naming the method', async () => {
    const slow = make({ size: 1, heartbeatMs: 60_000, closeTimeoutMs: 200 });
    try {
      await slow.start();
      await assert.rejects(
        slow.worker(0)!.request('fault.hang', {}, { timeoutMs: 300 }),
        /did not answer fault.hang within 300 ms/,
      );
    } finally {
      await slow.close();
    }
  });

  it('closes every thread, and refuses requests after close', async () => {
    await pool.start();
    const workers = pool.workers();
    await pool.close();
    await pool.close();
    for (const worker of workers) {
      assert.ok(worker.closed);
      await assert.rejects(worker.request('ping', {}), /closed/);
    }
    assert.throws(() => pool.pick(), /no media worker is running/);
  });

  it('refuses a pool without workers', () => {
    assert.throws(() => make({ size: 0 }), /at least one worker/);
  });
});
