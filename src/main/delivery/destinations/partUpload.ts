import { open } from 'node:fs/promises';
import type { ResumeState } from '../../store/DeliveryRepository';
import { PART_CONCURRENCY, type PartsResume, type UploadJob } from './Destination';
import { readChunk, runPool } from './io';

/** How a file is cut into parts (S3 multipart, Azure blocks). */
export interface PartPlan {
  partSize: number;
  partsTotal: number;
  /** Size of part `n` (1-based): the last one holds the rest. */
  sizeOf(n: number): number;
}

/** Parts of at least `min` bytes, whole MiB, and at most `maxParts` of them (at least one). */
export function planParts(size: number, min: number, maxParts: number): PartPlan {
  const mib = 1 << 20;
  const partSize = Math.max(min, Math.ceil(size / maxParts / mib) * mib);
  const partsTotal = Math.max(1, Math.ceil(size / partSize));
  return {
    partSize,
    partsTotal,
    sizeOf: (n) => (n < partsTotal ? partSize : size - partSize * (partsTotal - 1)),
  };
}

/**
 * Sends the parts `resume.stored` lacks, PART_CONCURRENCY at once, each read into a reused
 * buffer (memory stays at PART_CONCURRENCY parts). Each stored part is recorded in `resume`
 * (with what `send` returns: the ETag or block id) and persisted at once, so a later attempt
 * sends only what is still missing; progress counts stored bytes.
 */
export async function uploadMissingParts(
  job: UploadJob,
  plan: PartPlan,
  resume: PartsResume,
  send: (n: number, body: Buffer) => Promise<string>,
): Promise<void> {
  const save = () => job.saveResume(resume as unknown as ResumeState);
  save();
  let bytes = Object.keys(resume.stored).reduce((sum, n) => sum + plan.sizeOf(Number(n)), 0);
  job.onProgress(bytes);
  const missing = Array.from({ length: plan.partsTotal }, (_, i) => i + 1).filter(
    (n) => resume.stored[String(n)] === undefined,
  );
  if (missing.length === 0) return;
  const file = await open(job.localPath, 'r');
  const buffers = Array.from({ length: Math.min(PART_CONCURRENCY, missing.length) }, () =>
    Buffer.allocUnsafe(plan.partSize),
  );
  try {
    await runPool(
      missing,
      PART_CONCURRENCY,
      async (n, slot) => {
        const body = await readChunk(file, (n - 1) * plan.partSize, plan.sizeOf(n), buffers[slot]);
        // Counted when sent, so a part whose answer was lost counts again when re-sent.
        resume.partsSent += 1;
        resume.stored[String(n)] = await send(n, body);
        save();
        bytes += body.length;
        job.onProgress(bytes);
      },
      job.signal,
    );
  } finally {
    await file.close();
  }
}
