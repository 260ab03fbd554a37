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
const QUEUE_BYTES = 2 * MB;

/** Resident memory of a process (bytes), from /proc. */
function rssOf(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) * 1024;
}

describe('slow disk', () => {
  it(
    'a disk taking 200 KB/s under 4 streams for 20 s: the write queue stays bounded, dropped frames are counted, the files play',
    { timeout: 180_000 },
    async () => {
      const dir = tempDir();
      let core: HeadlessCore | null = null;
      const publishers: SyntheticPublisher[] = [];
      try {
        core = await startHeadless({
          dataDir: dir.path,
          env: {
            SPOOL_TEST_DISK_BYTES_PER_SEC: '200000',
            SPOOL_RECORDING_QUEUE_BYTES: String(QUEUE_BYTES),
            SPOOL_KEYFRAME_INTERVAL_SEC: '1',
            SPOOL_SESSION_GRACE_SEC: '60',
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
        const deadline = Date.now() + 20_000;
        while (Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 1000));
          rssPeak = Math.max(rssPeak, rssOf(core.process.pid!));
        }
        const during = await operator.ok<{ disk: DiskReport }>('GET', '/api/studio');
        await api.stop(archive.id);
        await api.waitStatus(archive.id, 'available', 60_000);

        // The queue never held much more than its bound (a cluster per file can be on its way).
        assert.ok(
          during.disk.peakQueuedBytes > QUEUE_BYTES / 2,
          `the disk was not slow: ${JSON.stringify(during.disk)}`,
        );
        assert.ok(during.disk.peakQueuedBytes <= QUEUE_BYTES + 4 * MB, JSON.stringify(during.disk));
        // 4 × ~110 KB/s for 20 s held in memory would be ~9 MB more than the bound; allow noise.
        assert.ok(rssPeak - rssAtStart < 120 * MB, `RSS grew ${Math.round((rssPeak - rssAtStart) / MB)} MB`);

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
