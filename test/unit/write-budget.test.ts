import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { queuedInSlots, sharedQueueSlots, WriteBudget } from '../../src/main/recording/WriteBudget';

describe('the write queue', () => {
  it('is congested at its limit, and free again once the disk took the bytes', () => {
    const budget = new WriteBudget(1000);
    budget.add(999);
    assert.equal(budget.congested, false);
    budget.add(1);
    assert.equal(budget.congested, true);
    budget.release(500);
    assert.equal(budget.congested, false);
    assert.equal(budget.queuedBytes, 500);
    assert.equal(budget.peakBytes, 1000);
    assert.equal(budget.totalBytes, 1000);
  });

  it('is one queue for every thread that shares it: congested when all of them together reach the limit', () => {
    const slots = sharedQueueSlots(3);
    const main = new WriteBudget(1000, { slots, index: 0 });
    const worker = new WriteBudget(1000, { slots, index: 1 });
    worker.add(600);
    assert.equal(main.congested, false);
    assert.equal(main.studioQueuedBytes, 600);
    main.add(400);
    assert.equal(main.congested, true, 'the main thread sees the worker’s bytes');
    assert.equal(worker.congested, true, 'and the worker the main thread’s');
    assert.equal(main.queuedBytes, 400, 'each thread keeps its own share');
    worker.release(600);
    assert.equal(main.congested, false);
    assert.equal(queuedInSlots(slots), 400);
  });

  it(
    "counts a worker thread's queue in the main thread's (shared memory, not messages)",
    { timeout: 20_000 },
    async () => {
      const slots = sharedQueueSlots(2);
      const main = new WriteBudget(10_000, { slots, index: 0 });
      const thread = new Worker(new URL('../helpers/budgetThread.ts', import.meta.url), {
        workerData: { slots, index: 1, limit: 10_000 },
      });
      // Each answer within 5 s (a thread that never answers fails the test with its name).
      const ask = async (message: object) => {
        const answer = once(thread, 'message', { signal: AbortSignal.timeout(5000) });
        thread.postMessage(message);
        return ((await answer) as [{ queued: number; congested: boolean }])[0];
      };
      try {
        await once(thread, 'message', { signal: AbortSignal.timeout(10_000) }); // ready
        main.add(4000);
        assert.deepEqual(await ask({ add: 5000 }), { queued: 5000, congested: false });
        assert.equal(main.studioQueuedBytes, 9000);
        assert.deepEqual(await ask({ add: 1000 }), { queued: 6000, congested: true });
        assert.equal(main.congested, true, 'the worker’s queue fills the studio’s');
        await ask({ release: 6000 });
        assert.equal(main.congested, false);
        assert.equal(main.studioQueuedBytes, 4000);
      } finally {
        await thread.terminate();
      }
    },
  );
});
