import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Manifest } from '../../src/shared/archive';
import { avOffsets } from '../helpers/avsync';
import { startHeadless, type HeadlessCore } from '../helpers/headless';
import { decodeErrors, firstVideoFrameIsKey, probe } from '../helpers/probe';
import { makeClip, SyntheticPublisher } from '../helpers/publisher';
import { ArchiveApi, OperatorClient, waitFor } from '../helpers/studio';
import { tempDir } from '../helpers/tmp';

function manifestOf(dataDir: string, id: string): Manifest {
  return JSON.parse(readFileSync(join(dataDir, 'archives', id, 'manifest.json'), 'utf8')) as Manifest;
}

describe('recording', () => {
  let dir: ReturnType<typeof tempDir>;
  let core: HeadlessCore;
  let operator: OperatorClient;
  let api: ArchiveApi;
  const publishers: SyntheticPublisher[] = [];
  before(async () => {
    dir = tempDir();
    core = await startHeadless({
      dataDir: dir.path,
      env: { SPOOL_SESSION_GRACE_SEC: '1', SPOOL_KEYFRAME_INTERVAL_SEC: '2' },
    });
    operator = await OperatorClient.login(core);
    api = new ArchiveApi(core.url);
  });
  after(async () => {
    for (const p of publishers) await p.close();
    await core?.stop();
    dir.remove();
  });

  async function publish(
    roomId: string,
    options: {
      clip?: string;
      connectionData?: string;
      recordingBlock?: boolean;
      loop?: boolean;
      audioSendDelayMs?: number;
    } = {},
  ) {
    const token = await operator.createToken(roomId, {
      connectionData: options.connectionData ?? 'Publisher',
      recordingBlock: options.recordingBlock ?? false,
    });
    const publisher = await SyntheticPublisher.start({
      whipUrl: token.whipUrl,
      token: token.token,
      clip: options.clip ?? makeClip({ durationSec: 30 }),
      loop: options.loop ?? true,
      audioSendDelayMs: options.audioSendDelayMs,
    });
    publishers.push(publisher);
    await waitFor(
      async () => {
        const streams = (await operator.room(roomId)).session?.streams ?? [];
        return streams.some(
          (s) =>
            s.codecs.video && s.codecs.audio && s.connectionId === publisher.resourceUrl.split('/').pop(),
        );
      },
      10_000,
      'the stream',
    );
    return publisher;
  }

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
    publishers.push(publisher);
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

  // What happens, not when: these use their own rooms (two their own studios) and run two at a
  // time. The two above measure time and run alone.
  describe('lifecycle', { concurrency: 2 }, () => {
    it('pauses when nothing is published, resumes, and stops for idle time', async () => {
      const idleCore = await startHeadless({
        dataDir: tempDir().path,
        env: { SPOOL_IDLE_TIMEOUT_SEC: '4', SPOOL_SESSION_GRACE_SEC: '30' },
      });
      try {
        const idleApi = new ArchiveApi(idleCore.url);
        const op = await OperatorClient.login(idleCore);
        const room = await op.createRoom();
        const token = await op.createToken(room.id);
        const first = await SyntheticPublisher.start({
          whipUrl: token.whipUrl,
          token: token.token,
          clip: makeClip({ durationSec: 30 }),
          loop: true,
        });
        const archive = await idleApi.start({ sessionId: room.id, outputMode: 'individual' });
        await new Promise((resolve) => setTimeout(resolve, 1500));
        // A subscriber keeps the session open while nothing is published.
        const viewer = await op.createToken(room.id, { role: 'subscriber' });
        const keepOpen = new (await import('ws')).WebSocket(
          `${idleCore.url.replace('http', 'ws')}/signaling`,
        );
        await new Promise((resolve) => keepOpen.once('open', resolve));
        keepOpen.send(JSON.stringify({ type: 'join', token: viewer.token }));
        const ping = setInterval(() => keepOpen.send('{"type":"ping"}'), 2000);
        await first.stop();
        await idleApi.waitStatus(archive.id, 'paused', 5000);
        const second = await SyntheticPublisher.start({
          whipUrl: token.whipUrl,
          token: token.token,
          clip: makeClip({ durationSec: 30 }),
          loop: true,
        });
        await idleApi.waitStatus(archive.id, 'started', 5000);
        await new Promise((resolve) => setTimeout(resolve, 1500));
        await second.stop();
        const stopped = await idleApi.waitStatus(archive.id, 'available', 12_000);
        assert.equal(stopped.reason, 'maximum idle time exceeded');
        const manifest = manifestOf(idleCore.output().match(/Data directory: (\S+)/)![1]!, archive.id);
        assert.equal(manifest.files.length, 2, 'one file per publisher');
        clearInterval(ping);
        keepOpen.close();
      } finally {
        await idleCore.stop();
      }
    });

    it('stops at the maximum duration with its reason', async () => {
      const shortCore = await startHeadless({
        dataDir: tempDir().path,
        env: { SPOOL_MAX_DURATION_SEC: '3' },
      });
      try {
        const shortApi = new ArchiveApi(shortCore.url);
        const op = await OperatorClient.login(shortCore);
        const room = await op.createRoom();
        const token = await op.createToken(room.id);
        const p = await SyntheticPublisher.start({
          whipUrl: token.whipUrl,
          token: token.token,
          clip: makeClip({ durationSec: 30 }),
          loop: true,
        });
        try {
          const archive = await shortApi.start({ sessionId: room.id, outputMode: 'individual' });
          const done = await shortApi.waitStatus(archive.id, 'available', 10_000);
          assert.equal(done.reason, 'maximum duration exceeded');
          assert.ok(done.duration >= 2 && done.duration <= 5, `duration ${done.duration}`);
        } finally {
          await p.stop();
        }
      } finally {
        await shortCore.stop();
      }
    });

    it('ends archives with the session: reason "session ended"', async () => {
      const room = await operator.createRoom();
      const p = await publish(room.id);
      const archive = await api.start({ sessionId: room.id, outputMode: 'individual' });
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await p.stop();
      const done = await api.waitStatus(archive.id, 'available', 8000);
      assert.equal(done.reason, 'session ended');
    });

    it('records only the chosen streams in manual mode, with new segments when re-added', async () => {
      const room = await operator.createRoom();
      const a = await publish(room.id, { connectionData: 'A' });
      await publish(room.id, { connectionData: 'B' });
      const streams = (await operator.room(room.id)).session!.streams;
      const streamA = streams.find((s) => s.connectionId === a.resourceUrl.split('/').pop())!;
      const archive = await api.start({ sessionId: room.id, outputMode: 'individual', streamMode: 'manual' });
      await api.waitStatus(archive.id, 'paused', 3000);
      assert.equal(
        (
          await api.call('PATCH', `/archive/${archive.id}/streams`, {
            addStream: streamA.id,
            hasAudio: true,
            hasVideo: false,
          })
        ).status,
        204,
      );
      const started = await api.waitStatus(archive.id, 'started', 3000);
      assert.deepEqual(started.streams, [{ streamId: streamA.id, hasAudio: true, hasVideo: false }]);
      await new Promise((resolve) => setTimeout(resolve, 2000));
      assert.equal(
        (await api.call('PATCH', `/archive/${archive.id}/streams`, { removeStream: streamA.id })).status,
        204,
      );
      await api.waitStatus(archive.id, 'paused', 3000);
      assert.equal(
        (await api.call('PATCH', `/archive/${archive.id}/streams`, { addStream: streamA.id })).status,
        204,
      );
      await api.waitStatus(archive.id, 'started', 3000);
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const bad = await api.call<{ code: string }>('PATCH', `/archive/${archive.id}/streams`, {
        addStream: 'nope',
      });
      assert.equal(bad.status, 404);
      const both = await api.call<{ field: string }>('PATCH', `/archive/${archive.id}/streams`, {
        addStream: streamA.id,
        removeStream: streamA.id,
      });
      assert.equal(both.status, 400);
      await api.stop(archive.id);
      const manifest = manifestOf(dir.path, archive.id);
      assert.deepEqual(manifest.files.map((f) => f.filename).sort(), [
        `${streamA.id}.webm`,
        `${streamA.id}_1.webm`,
      ]);
      const first = await probe(join(dir.path, 'archives', archive.id, `${streamA.id}.webm`));
      assert.deepEqual(
        first.streams.map((s) => s.codec_name),
        ['opus'],
        'audio only, as chosen',
      );
      const second = await probe(join(dir.path, 'archives', archive.id, `${streamA.id}_1.webm`));
      assert.deepEqual(second.streams.map((s) => s.codec_name).sort(), ['opus', 'vp8']);
      // Auto-mode archives refuse stream selection.
      const auto = await api.start({ sessionId: room.id, outputMode: 'individual', multiArchiveTag: 'auto' });
      const refused = await api.call<{ field: string }>('PATCH', `/archive/${auto.id}/streams`, {
        addStream: streamA.id,
      });
      assert.equal(refused.status, 400);
      await api.stop(auto.id);
    });

    it('records simultaneous archives only with distinct multiArchiveTags (409 otherwise)', async () => {
      const room = await operator.createRoom();
      await publish(room.id);
      const first = await api.start({ sessionId: room.id, outputMode: 'individual' });
      const again = await api.call<{ code: string; message: string }>('POST', '/archive', {
        sessionId: room.id,
      });
      assert.equal(again.status, 409);
      assert.match(again.body.message, /multiArchiveTag/);
      const tagged = await api.start({
        sessionId: room.id,
        outputMode: 'individual',
        multiArchiveTag: 'backup',
        format: 'mp4',
      });
      const clash = await api.call('POST', '/archive', { sessionId: room.id, multiArchiveTag: 'backup' });
      assert.equal(clash.status, 409);
      await new Promise((resolve) => setTimeout(resolve, 2500));
      await api.stop(first.id);
      await api.stop(tagged.id);
      const webm = manifestOf(dir.path, first.id).files[0]!;
      const mp4 = manifestOf(dir.path, tagged.id).files[0]!;
      assert.match(webm.filename, /\.webm$/);
      // VP8 cannot be copied into MP4, so a VP8 stream stays WebM even in mp4 format.
      assert.match(mp4.filename, /\.webm$/);
      assert.ok(mp4.size > 0 && webm.size > 0);
    });

    it('writes split files that start on keyframes and add up to the whole', async () => {
      const room = await operator.createRoom();
      await publish(room.id);
      const archive = await api.start({ sessionId: room.id, outputMode: 'individual', splitDuration: 5 });
      await new Promise((resolve) => setTimeout(resolve, 16_000));
      await api.stop(archive.id);
      const manifest = manifestOf(dir.path, archive.id);
      assert.ok(manifest.splits && manifest.splits.length >= 3, JSON.stringify(manifest.splits));
      const whole = await probe(join(dir.path, 'archives', archive.id, manifest.files[0]!.filename));
      let sum = 0;
      for (const split of manifest.splits!) {
        assert.match(split.filename, /^split\/[0-9a-f-]{36}_\d{4}\.webm$/);
        const path = join(dir.path, 'archives', archive.id, split.filename);
        assert.ok(await firstVideoFrameIsKey(path), `${split.filename} starts on a keyframe`);
        assert.equal(await decodeErrors(path), '');
        sum += (await probe(path)).duration;
      }
      assert.ok(Math.abs(sum - whole.duration) < 0.2, `splits ${sum} vs whole ${whole.duration}`);
    });

    it('never records a connection with recordingBlock', async () => {
      const room = await operator.createRoom();
      await publish(room.id, { connectionData: 'Recorded' });
      await publish(room.id, { connectionData: 'Private', recordingBlock: true });
      const archive = await api.start({ sessionId: room.id, outputMode: 'individual' });
      await new Promise((resolve) => setTimeout(resolve, 2000));
      await api.stop(archive.id);
      const manifest = manifestOf(dir.path, archive.id);
      assert.deepEqual(
        manifest.files.map((f) => f.connectionData),
        ['Recorded'],
      );
    });

    it('refuses archives of unknown or empty sessions and bad options with clear errors', async () => {
      const missing = await api.call<{ code: string }>('POST', '/archive', { sessionId: 'nope' });
      assert.equal(missing.status, 404);
      const empty = await operator.createRoom();
      const noClients = await api.call<{ message: string }>('POST', '/archive', { sessionId: empty.id });
      assert.equal(noClients.status, 400);
      assert.match(noClients.body.message, /no clients are connected/);
      const bad = await api.call<{ field: string }>('POST', '/archive', {
        sessionId: empty.id,
        resolution: '123x45',
      });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.field, 'resolution');
      const badMode = await api.call<{ field: string }>('POST', '/archive', {
        sessionId: empty.id,
        outputMode: 'both',
      });
      assert.equal(badMode.body.field, 'outputMode');
      assert.equal((await api.call('GET', '/archive/00000000-0000-0000-0000-000000000000')).status, 404);
      assert.equal(
        (await api.call('POST', '/archive/00000000-0000-0000-0000-000000000000/stop')).status,
        404,
      );
      assert.equal((await api.call('GET', '/archive?count=-1')).status, 400);
      assert.ok(existsSync(join(dir.path, 'archives')));
    });

    it('records a stream whose resolution changes mid-stream, playable throughout', async () => {
      // 5 s at 640x360, then 5 s at 320x240: one VP8 stream, as a sender switching resolution.
      const parts = [makeClip({ durationSec: 5 }), makeClip({ durationSec: 5, width: 320, height: 240 })];
      const list = join(dir.path, 'concat.txt');
      writeFileSync(list, parts.map((p) => `file '${p}'`).join('\n'));
      const clip = join(dir.path, 'switch.webm');
      execFileSync('ffmpeg', [
        '-v',
        'error',
        '-y',
        '-f',
        'concat',
        '-safe',
        '0',
        '-i',
        list,
        '-c',
        'copy',
        clip,
      ]);
      const room = await operator.createRoom();
      const waiting = await publish(room.id, { connectionData: 'Waiting' });
      const archive = await api.start({ sessionId: room.id, outputMode: 'individual' });
      await waiting.stop();
      const token = await operator.createToken(room.id, { connectionData: 'Switcher' });
      const publisher = await SyntheticPublisher.start({ whipUrl: token.whipUrl, token: token.token, clip });
      publishers.push(publisher);
      await publisher.finished();
      await new Promise((resolve) => setTimeout(resolve, 600));
      await api.stop(archive.id);
      const file = manifestOf(dir.path, archive.id).files.find((f) => f.connectionData === 'Switcher')!;
      const path = join(dir.path, 'archives', archive.id, file.filename);
      const widths = execFileSync('ffprobe', [
        '-v',
        'error',
        '-select_streams',
        'v',
        '-show_entries',
        'frame=width',
        '-of',
        'csv=p=0',
        path,
      ])
        .toString()
        .trim()
        .split('\n')
        .map(Number);
      assert.ok(widths.includes(640) && widths.includes(320), `both sizes decoded: ${[...new Set(widths)]}`);
      assert.ok(widths.length >= 290, `frames ${widths.length}`);
      assert.equal(await decodeErrors(path), '');
    });
  });
});
