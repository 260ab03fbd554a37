import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { DiskReport } from '../../src/shared/api';
import { startHeadless, type HeadlessCore } from '../helpers/headless';
import { decodeErrors, probe } from '../helpers/probe';
import type { SyntheticPublisher } from '../helpers/publisher';
import { makeClip } from '../helpers/publisher';
import { manifestOf, startPublisher } from '../helpers/recordingChecks';
import { ArchiveApi, OperatorClient, waitFor } from '../helpers/studio';
import { tempDir } from '../helpers/tmp';

const MB = 1024 * 1024;

/** Resident memory of a process (bytes), from /proc. */
function rssOf(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) * 1024;
}

/**
 * On the main thread, and on a media worker (its recorders write through its own queue, here
 * all of it; shorter, with a smaller queue that fills and drains sooner: 4 × ~110 KB/s come in).
 */
const VARIANTS: Array<{
  where: string;
  bytesPerSec: number;
  queueBytes: number;
  seconds: number;
  env: Record<string, string>;
}> = [
  {
    where: ' (recorders on the main thread)',
    bytesPerSec: 200_000,
    queueBytes: 2 * MB,
    seconds: 20,
    env: { SPOOL_MEDIA_WORKERS: '0' },
  },
  {
    where: ' (recorders on a media worker)',
    bytesPerSec: 150_000,
    queueBytes: 1 * MB,
    seconds: 12,
    env: { SPOOL_MEDIA_WORKERS: '1' },
  },
];

// The two variants side by side: each checks what the queue holds and what is dropped, not when.
describe('slow disk', { concurrency: 2 }, () => {
  for (const { where, bytesPerSec, queueBytes, seconds, env } of VARIANTS)
    it(
      `a disk taking ${bytesPerSec / 1000} KB/s under 4 streams for ${seconds} s${where}: the write queue stays bounded, dropped frames are counted, the files play`,
      { timeout: 180_000 },
      async () => {
        const dir = tempDir();
        let core: HeadlessCore | null = null;
        const publishers: SyntheticPublisher[] = [];
        try {
          core = await startHeadless({
            dataDir: dir.path,
            env: {
              SPOOL_TEST_DISK_BYTES_PER_SEC: String(bytesPerSec),
              SPOOL_RECORDING_QUEUE_BYTES: String(queueBytes),
              SPOOL_KEYFRAME_INTERVAL_SEC: '1',
              SPOOL_SESSION_GRACE_SEC: '60',
              ...env,
            },
          });
          const operator = await OperatorClient.login(core);
          const api = new ArchiveApi(core.url);
          const room = await operator.createRoom({ name: 'Slow disk' });
          const clip = makeClip({ durationSec: 20 });
          for (let i = 0; i < 4; i++) {
            const token = await operator.createToken(room.id, { connectionData: `Guest ${i}` });
            publishers.push(
              await startPublisher({ whipUrl: token.whipUrl, token: token.token, clip, loop: true }),
            );
          }
          await waitFor(
            async () => ((await operator.room(room.id)).session?.streams.length ?? 0) === 4,
            15_000,
            'four streams',
          );
          const archive = await api.start({ sessionId: room.id, outputMode: 'individual' });
          const rssAtStart = rssOf(core.process.pid!);
          let rssPeak = rssAtStart;
          const deadline = Date.now() + seconds * 1000;
          while (Date.now() < deadline) {
            await new Promise((resolve) => setTimeout(resolve, 1000));
            rssPeak = Math.max(rssPeak, rssOf(core.process.pid!));
          }
          const during = await operator.ok<{ disk: DiskReport }>('GET', '/api/studio');
          await api.stop(archive.id);
          await api.waitStatus(archive.id, 'available', 60_000);

          // The queue never held much more than its bound (a cluster per file can be on its way).
          assert.ok(
            during.disk.peakQueuedBytes > queueBytes / 2,
            `the disk was not slow: ${JSON.stringify(during.disk)}`,
          );
          assert.ok(during.disk.peakQueuedBytes <= queueBytes + 4 * MB, JSON.stringify(during.disk));
          // 4 × ~110 KB/s held in memory for the whole run would be up to ~9 MB more than the bound; allow noise.
          assert.ok(
            rssPeak - rssAtStart < 120 * MB,
            `RSS grew ${Math.round((rssPeak - rssAtStart) / MB)} MB`,
          );

          const manifest = manifestOf(dir.path, archive.id);
          assert.equal(manifest.files.length, 4);
          let dropped = 0;
          for (const file of manifest.files) {
            for (const track of Object.values(file.tracks ?? {})) dropped += track.framesDropped.backpressure;
            const path = join(dir.path, 'archives', archive.id, file.filename);
            assert.ok((await probe(path)).duration >= 5, `${file.filename} is too short`);
            assert.equal(await decodeErrors(path), '', `${file.filename} decodes with errors`);
          }
          assert.ok(
            dropped > 0,
            `no frames counted as dropped: ${JSON.stringify(manifest.files.map((f) => f.tracks))}`,
          );
        } finally {
          for (const p of publishers) await p.close();
          await core?.stop();
          dir.remove();
        }
      },
    );
});
