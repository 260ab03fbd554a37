import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { avOffsets } from '../helpers/avsync';
import { decodeErrors, firstVideoFrameIsKey, probe } from '../helpers/probe';
import { makeClip, SyntheticPublisher } from '../helpers/publisher';
import type { ArchiveApi, OperatorClient } from '../helpers/studio';
import { manifestOf } from '../helpers/recordingChecks';
import { startRecordingStudio, type PublishOptions, type RecordingStudio } from '../helpers/recordingStudio';

/**
 * Recording from synthetic publishers: what a file holds and when (these two measure time and
 * run alone; the archive lifecycle is in recording-lifecycle.test.ts). The two run side by side,
 * each in its own room: each is one synthetic publisher (the studio and the test process are
 * mostly idle), and what they measure is in the media's own times, not the wall clock's.
 */
describe('recording', { concurrency: 2 }, () => {
  let studio: RecordingStudio;
  let dir: RecordingStudio['dir'];
  let operator: OperatorClient;
  let api: ArchiveApi;
  before(async () => {
    studio = await startRecordingStudio();
    ({ dir, operator, api } = studio);
  });
  after(async () => {
    await studio?.close();
  });
  const publish = (roomId: string, options?: PublishOptions) => studio.publish(roomId, options);

  it('records a 20 s synthetic publisher without transcoding: codecs, duration ±0.3 s, no decode errors, manifest', async () => {
    const room = await operator.createRoom({ name: 'Twenty seconds' });
    const clip = makeClip({ durationSec: 20, width: 1280, height: 720, videoKbps: 1500 });
    const token = await operator.createToken(room.id, { connectionData: 'Alice' });
    // The archive starts first, then the clip plays exactly once.
    const waiting = await publish(room.id, { connectionData: 'Waiting' });
    const archive = await api.start({ sessionId: room.id, outputMode: 'individual', name: 'twenty' });
    assert.equal(archive.status, 'started');
    assert.equal(archive.outputMode, 'individual');
    await waiting.stop();
    const publisher = await SyntheticPublisher.start({ whipUrl: token.whipUrl, token: token.token, clip });
    studio.publishers.push(publisher);
    await publisher.finished();
    await publisher.stop();
    await new Promise((resolve) => setTimeout(resolve, 600));
    const stopped = await api.stop(archive.id);
    assert.equal(stopped.status, 'stopped');
    assert.equal(stopped.reason, 'user initiated');
    const available = await api.waitStatus(archive.id, 'available', 2000);
    // REST answers carry a signed, expiring link to the ZIP (OpenTok's pre-signed URL).
    assert.match(
      available.url ?? '',
      new RegExp(`/links/${archive.id}/archive.zip\\?expires=\\d+&signature=[\\w-]{43}$`),
    );

    const manifest = manifestOf(dir.path, archive.id);
    assert.equal(manifest.id, archive.id);
    assert.equal(manifest.sessionId, room.id);
    assert.equal(manifest.name, 'twenty');
    const file = manifest.files.find((f) => f.connectionData === 'Alice')!;
    assert.ok(file, JSON.stringify(manifest.files));
    assert.equal(file.videoType, 'camera');
    // Compositions order sources by it (the stream exists before its first recorded frame).
    assert.ok(
      typeof file.streamCreatedAt === 'number' &&
        file.streamCreatedAt <= manifest.createdAt + file.startTimeOffset,
      `streamCreatedAt ${file.streamCreatedAt}`,
    );
    assert.match(file.filename, /^[0-9a-f-]{36}\.webm$/);
    const path = join(dir.path, 'archives', archive.id, file.filename);
    const info = await probe(path);
    assert.deepEqual(info.streams.map((s) => s.codec_name).sort(), ['opus', 'vp8']);
    assert.equal(info.streams.find((s) => s.codec_type === 'video')?.width, 1280);
    assert.ok(Math.abs(info.duration - 20) <= 0.3, `duration ${info.duration}`);
    assert.ok(Math.abs(file.stopTimeOffset - file.startTimeOffset - 20_000) <= 300);
    assert.equal(file.size, readFileSync(path).length);
    assert.equal(await decodeErrors(path), '');
    assert.ok(await firstVideoFrameIsKey(path));
  });

  // werift's sender reports are stamped with whole seconds (it truncates the NTP fraction): the
  // time model finds they disagree with the arrivals and times this publisher by arrival
  // (docs/recording-timing.md). libwebrtc senders are covered by recording-sync.
  it(
    'keeps the beep and the flash within one frame, also after a gap without video',
    { timeout: 60_000 },
    async () => {
      const room = await operator.createRoom({ name: 'Sync' });
      // Audio leaves once captured, as from a live source (the recorder's model of a sender).
      const publisher = await publish(room.id, {
        clip: makeClip({ durationSec: 30, syncPeriodSec: 2 }),
        audioSendDelayMs: 20,
      });
      const archive = await api.start({ sessionId: room.id, outputMode: 'individual' });
      await new Promise((resolve) => setTimeout(resolve, 6000));
      publisher.drop('video', 3000);
      await new Promise((resolve) => setTimeout(resolve, 9000));
      await api.stop(archive.id);
      const manifest = manifestOf(dir.path, archive.id);
      const file = join(dir.path, 'archives', archive.id, manifest.files[0]!.filename);
      const { offsetsMs, flashes } = await avOffsets(file, { fine: true });
      // A flash every 2 s of the ~15 s recorded, but for the one or two of the 3 s gap.
      const expected = Math.floor((await probe(file)).duration / 2) - 2;
      const matched = offsetsMs.filter((offset) => Math.abs(offset) <= 34);
      assert.ok(
        matched.length > 0 && matched.length >= expected,
        `${matched.length} pairs of ${expected}: flashes ${flashes}, offsets ${offsetsMs}`,
      );
      for (const offset of offsetsMs) assert.ok(Math.abs(offset) <= 34, `A/V offsets ${offsetsMs}`);
      // The gap is a gap in time: flashes still fall every 2 s after it.
      const gaps = flashes.slice(1).map((t, i) => t - flashes[i]!);
      assert.ok(
        gaps.some((g) => g > 3.5),
        `a gap in the flashes: ${gaps}`,
      );
      for (const g of gaps) assert.ok(Math.abs(g - Math.round(g / 2) * 2) < 0.05, `flash spacing ${gaps}`);
    },
  );
});
