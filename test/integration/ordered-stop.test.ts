import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RecordingFormat } from '../../src/shared/archive';
import { startHeadless, type HeadlessCore } from '../helpers/headless';
import { probe } from '../helpers/probe';
import type { SyntheticPublisher } from '../helpers/publisher';
import { makeClip } from '../helpers/publisher';
import { checkManifestFiles, hasCues, manifestOf, startPublisher } from '../helpers/recordingChecks';
import { ArchiveApi, OperatorClient, waitFor } from '../helpers/studio';
import { tempDir } from '../helpers/tmp';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function publish(operator: OperatorClient, roomId: string, clip: string): Promise<SyntheticPublisher> {
  const token = await operator.createToken(roomId, { connectionData: 'Guest' });
  const publisher = await startPublisher({
    whipUrl: token.whipUrl,
    token: token.token,
    clip,
    loop: true,
  });
  await waitFor(
    async () => (await operator.room(roomId)).session?.streams.some((s) => s.codecs.video && s.codecs.audio),
    15_000,
    'the stream',
  );
  return publisher;
}

describe('ordered stop', { concurrency: 2 }, () => {
  let dir: ReturnType<typeof tempDir>;
  let core: HeadlessCore;
  let operator: OperatorClient;
  let api: ArchiveApi;
  const publishers: SyntheticPublisher[] = [];
  before(async () => {
    dir = tempDir();
    core = await startHeadless({
      dataDir: dir.path,
      // Sessions outlive their last publisher: the archive is stopped by the API, not by the session.
      env: { SPOOL_SESSION_GRACE_SEC: '60', SPOOL_KEYFRAME_INTERVAL_SEC: '1' },
    });
    operator = await OperatorClient.login(core);
    api = new ArchiveApi(core.url);
    // Made (blocking) before any test sends: made while another test's publishers run, a clip
    // would stall them for seconds.
    for (const { clip } of cases) clip();
  });
  after(async () => {
    for (const p of publishers) await p.close();
    await core?.stop();
    dir?.remove();
  });

  const cases: Array<{ format: RecordingFormat; clip: () => string; codec: string }> = [
    { format: 'webm', clip: () => makeClip({ durationSec: 20 }), codec: 'vp8' },
    { format: 'mp4', clip: () => makeClip({ durationSec: 20, codec: 'h264' }), codec: 'h264' },
  ];
  for (const { format, clip, codec } of cases) {
    for (const delayMs of [0, 50, 200]) {
      it(
        `stops ${delayMs} ms after the publisher leaves (${format}, ${codec}), 5 times: every file final, durations as the manifest says, no decode errors`,
        { timeout: 120_000 },
        async () => {
          // Five archives at once, one per room, each with a publisher that leaves just before the stop.
          const rooms = await Promise.all(
            Array.from({ length: 5 }, async (_, i) => {
              const room = await operator.createRoom({ name: `Leave ${format} ${delayMs} ${i}` });
              const publisher = await publish(operator, room.id, clip());
              publishers.push(publisher);
              return { id: room.id, publisher };
            }),
          );
          await Promise.all(
            rooms.map(async ({ id, publisher }, i) => {
              const room = { id };
              const archive = await api.start({ sessionId: room.id, outputMode: 'individual', format });
              await sleep(2500 + i * 100);
              await publisher.stop();
              if (delayMs > 0) await sleep(delayMs);
              const stopped = await api.stop(archive.id);
              assert.equal(stopped.status, 'stopped');
              // The stop answered after the files were final: the manifest is there and complete.
              const manifest = manifestOf(dir.path, archive.id);
              assert.equal(manifest.files.length, 1, JSON.stringify(manifest.files));
              const file = manifest.files[0]!;
              assert.match(file.filename, format === 'mp4' ? /\.mp4$/ : /\.webm$/);
              // H.264 files start at the first keyframe with SPS/PPS, up to a second in.
              assert.ok(file.stopTimeOffset - file.startTimeOffset >= 1000, JSON.stringify(file));
              const available = await api.waitStatus(archive.id, 'available', 10_000);
              // The archive's size counts its manifest and each file's metadata JSON too.
              const metadata =
                file.metadataFilename === undefined
                  ? 0
                  : statSync(join(dir.path, 'archives', archive.id, file.metadataFilename)).size;
              assert.equal(available.size, file.size + manifestSize(dir.path, archive.id) + metadata);
              await checkManifestFiles(dir.path, archive.id);
              const info = await probe(join(dir.path, 'archives', archive.id, file.filename));
              assert.ok(
                info.streams.some((s) => s.codec_name === codec),
                JSON.stringify(info.streams),
              );
            }),
          );
        },
      );
    }
  }
});

function manifestSize(dataDir: string, archiveId: string): number {
  return Buffer.byteLength(JSON.stringify(manifestOf(dataDir, archiveId), null, 2)) + 1;
}

describe('shutdown', () => {
  it(
    'SIGTERM during a 4-stream recording finalizes all four files; the archive is available and nothing is recovered at the next start',
    { timeout: 120_000 },
    async () => {
      const dir = tempDir();
      let core = await startHeadless({ dataDir: dir.path, env: { SPOOL_KEYFRAME_INTERVAL_SEC: '1' } });
      const publishers: SyntheticPublisher[] = [];
      try {
        const operator = await OperatorClient.login(core);
        const api = new ArchiveApi(core.url);
        const room = await operator.createRoom({ name: 'Shutdown' });
        const clip = makeClip({ durationSec: 20 });
        for (let i = 0; i < 4; i++) publishers.push(await publish(operator, room.id, clip));
        await waitFor(
          async () => ((await operator.room(room.id)).session?.streams.length ?? 0) === 4,
          15_000,
          '4 streams',
        );
        const archive = await api.start({ sessionId: room.id, outputMode: 'individual' });
        await sleep(4000);
        const code = await core.stop();
        assert.equal(code, 0, core.output());
        const manifest = manifestOf(dir.path, archive.id);
        assert.equal(manifest.files.length, 4, JSON.stringify(manifest.files));
        for (const file of manifest.files) {
          const path = join(dir.path, 'archives', archive.id, file.filename);
          assert.ok(hasCues(path), `${file.filename} has no Cues`);
          assert.ok(Number.isFinite((await probe(path)).duration), `${file.filename} has no Duration`);
        }
        await checkManifestFiles(dir.path, archive.id);
        for (const p of publishers) await p.close();

        core = await startHeadless({ dataDir: dir.path });
        const after = await new ArchiveApi(core.url).get(archive.id);
        assert.equal(after.status, 'available');
        assert.equal(after.reason, 'session ended');
        assert.doesNotMatch(core.output(), /recovered/);
      } finally {
        for (const p of publishers) await p.close();
        await core.stop();
        dir.remove();
      }
    },
  );
});
