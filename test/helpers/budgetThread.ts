/**
 * A thread that queues bytes in the studio's shared write queue as a media worker's recorders do
 * (test/unit/write-budget.test.ts): `{ add }` or `{ release }` messages, answered with what its
 * budget then sees.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { WriteBudget } from '../../src/main/recording/WriteBudget';

const { slots, index, limit } = workerData as { slots: BigInt64Array; index: number; limit: number };
const budget = new WriteBudget(limit, { slots, index });
parentPort!.on('message', (message: { add?: number; release?: number }) => {
  if (message.add !== undefined) budget.add(message.add);
  if (message.release !== undefined) budget.release(message.release);
  parentPort!.postMessage({ queued: budget.queuedBytes, congested: budget.congested });
});
parentPort!.postMessage({ ready: true });
