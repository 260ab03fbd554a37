import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MatroskaWriter, openFileSink, type OpenSink } from '../../src/main/recording/MatroskaWriter';
import { WriteBudget } from '../../src/main/recording/WriteBudget';
import { decodeErrors, probe } from '../helpers/probe';
import { tempDir } from '../helpers/tmp';

/** Opus silence: one 20 ms frame (TOC 0xf8 = CELT FB 20 ms, mono, one frame, no data). */
const OPUS_FRAME = Buffer.from([0xf8, 0xff, 0xfe]);

const audioOnly = {
  docType: 'webm' as const,
  tracks: [
    {
      number: 1,
      kind: 'audio' as const,
      codecId: 'A_OPUS',
      codecPrivate: Buffer.from('4f707573486561640102380180bb0000000000', 'hex'),
      sampleRate: 48000,
      channels: 1,
      seekPreRollNs: 80_000_000,
    },
  ],
  clusterMs: 200,
};

/** A disk that takes `capacity` bytes and then answers ENOSPC (taking part of the last write). */
function fullAfter(capacity: number): OpenSink {
  return async (path) => {
    const file = await openFileSink(path);
    return {
      async write(buffer, offset, length, position) {
        const room = capacity - position;
        if (room <= 0)
          throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        return file.write(buffer, offset, Math.min(length, room), position);
      },
      datasync: () => file.datasync(),
      truncate: (length) => file.truncate(length),
      close: () => file.close(),
    };
  };
}

describe('MatroskaWriter under write errors', () => {
  it('reports ENOSPC at once, keeps only whole clusters, and finalizes a file that plays to its last cluster', async () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, 'a.webm');
      const errors: Error[] = [];
      const writer = await MatroskaWriter.create(path, {
        ...audioOnly,
        openSink: fullAfter(2000),
        onError: (error) => errors.push(error),
      });
      for (let t = 0; t < 10_000; t += 20) writer.write(1, t, OPUS_FRAME, true);
      await writer.flush();
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(errors.length, 1, 'the error is reported once, as soon as it happens');
      assert.equal((errors[0] as NodeJS.ErrnoException).code, 'ENOSPC');
      const result = await writer.finalize();
      assert.equal((result.error as NodeJS.ErrnoException).code, 'ENOSPC');
      // The size counts what is on disk, never what was dropped.
      assert.equal(result.size, statSync(path).size);
      assert.ok(result.size <= 2000);
      assert.ok(result.durationMs > 0 && result.durationMs < 10_000, `duration ${result.durationMs}`);
      const info = await probe(path);
      assert.ok(Math.abs(info.duration - result.durationMs / 1000) <= 0.1, `ffprobe ${info.duration}`);
      assert.equal(await decodeErrors(path), '');
    } finally {
      dir.remove();
    }
  });

  it('counts queued bytes in the shared budget and reports congestion while a slow disk lags', async () => {
    const dir = tempDir();
    try {
      const budget = new WriteBudget(2000);
      let release: () => void = () => {};
      const gate = new Promise<void>((resolve) => (release = resolve));
      const slow: OpenSink = async (path) => {
        const file = await openFileSink(path);
        let header = true;
        return {
          async write(buffer, offset, length, position) {
            // The header goes through; clusters wait until the test opens the gate.
            if (!header) await gate;
            header = false;
            return file.write(buffer, offset, length, position);
          },
          datasync: () => file.datasync(),
          truncate: (length) => file.truncate(length),
          close: () => file.close(),
        };
      };
      const writer = await MatroskaWriter.create(join(dir.path, 'b.webm'), {
        ...audioOnly,
        budget,
        openSink: slow,
      });
      assert.equal(writer.congested, false);
      for (let t = 0; t < 4000; t += 20) writer.write(1, t, Buffer.alloc(100, 1), true);
      const flushing = writer.flush();
      assert.ok(budget.queuedBytes >= 2000, `queued ${budget.queuedBytes}`);
      assert.equal(writer.congested, true);
      release();
      await flushing;
      const result = await writer.finalize();
      assert.equal(result.error, null);
      assert.equal(budget.queuedBytes, 0);
      assert.equal(readFileSync(join(dir.path, 'b.webm')).length, result.size);
    } finally {
      dir.remove();
    }
  });
});
