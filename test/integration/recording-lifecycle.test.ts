import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startHeadless } from '../helpers/headless';
import { makeSource } from '../helpers/media';
import { decodeErrors, firstVideoFrameIsKey, probe } from '../helpers/probe';
import { makeClip, SyntheticPublisher } from '../helpers/publisher';
import { ArchiveApi, OperatorClient } from '../helpers/studio';
import { manifestOf } from '../helpers/recordingChecks';
import { startRecordingStudio, type PublishOptions, type RecordingStudio } from '../helpers/recordingStudio';
import { tempDir } from '../helpers/tmp';

/** The archive lifecycle: pause, resume, idle and maximum durations, stream modes, splits, refusals. */
describe('recording lifecycle', { concurrency: 2 }, () => {
  let studio: RecordingStudio;
  let dir: RecordingStudio['dir'];
  let operator: OperatorClient;
  let api: ArchiveApi;
  /** Clips made before any test sends (making one takes the CPU a publisher needs). */
  let switchingClip: string;
  /** A small clip: a backlog of it fits the system's default socket buffer. */
  let smallClip: string;
  before(async () => {
    studio = await startRecordingStudio();
    ({ dir, operator, api } = studio);
    smallClip = makeClip({ durationSec: 30, width: 320, height: 240, fps: 15, videoKbps: 300 });
    // 5 s at 640x360, then 5 s at 320x240: one VP8 stream, as a sender switching resolution.
    switchingClip = await makeSource({
      path: join(dir.path, 'switch.webm'),
      duration: 10,
      width: 640,
      height: 360,
      pattern: 'testsrc2',
      resizeAt: { at: 5, width: 320, height: 240 },
    });
  });
  after(async () => {
    await studio?.close();
  });
  const publish = (roomId: string, options?: PublishOptions) => studio.publish(roomId, options);

  // What happens, not when: these use their own rooms (two their own studios) and run two at a
  // time, beside other files (recording.test.ts measures time and runs alone).
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
      const keepOpen = new (await import('ws')).WebSocket(`${idleCore.url.replace('http', 'ws')}/signaling`);
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
    // On failure, what the recorder saw: the splits and each track's dropped frames by cause.
    const seen = JSON.stringify({ splits: manifest.splits, files: manifest.files });
    assert.ok(manifest.splits && manifest.splits.length >= 3, seen);
    const whole = await probe(join(dir.path, 'archives', archive.id, manifest.files[0]!.filename));
    let sum = 0;
    for (const split of manifest.splits!) {
      assert.match(split.filename, /^split\/[0-9a-f-]{36}_\d{4}\.webm$/);
      const path = join(dir.path, 'archives', archive.id, split.filename);
      assert.ok(await firstVideoFrameIsKey(path), `${split.filename} starts on a keyframe`);
      assert.equal(await decodeErrors(path), '');
      sum += (await probe(path)).duration;
    }
    assert.ok(Math.abs(sum - whole.duration) < 0.2, `splits ${sum} vs whole ${whole.duration}: ${seen}`);
  });

  it("keeps a sender's backlog whole when its audio comes before its video", async () => {
    // A stalled sender (or network) delivers seconds of media at once, the audio first (as
    // libwebrtc's pacer sends it); the video following it is not late.
    const room = await operator.createRoom();
    const publisher = await publish(room.id, { clip: smallClip });
    const archive = await api.start({ sessionId: room.id, outputMode: 'individual', splitDuration: 5 });
    await new Promise((resolve) => setTimeout(resolve, 3000));
    publisher.hold('audio', 2000);
    publisher.hold('video', 2400);
    await new Promise((resolve) => setTimeout(resolve, 7000));
    await api.stop(archive.id);
    const manifest = manifestOf(dir.path, archive.id);
    const file = manifest.files[0]!;
    const seen = JSON.stringify({ splits: manifest.splits, tracks: file.tracks });
    assert.equal(file.tracks?.video?.framesDropped.late, 0, seen);
    assert.equal(file.tracks?.audio?.framesDropped.late, 0, seen);
    // The file covers the archive from the stream's first keyframe (after ~1 s of a busy
    // machine's start, not counted) to the stop: nothing of the backlog is cut from its end.
    const whole = await probe(join(dir.path, 'archives', archive.id, file.filename));
    const span = (file.stopTimeOffset - file.startTimeOffset) / 1000;
    assert.ok(
      span >= 8 && whole.duration >= span - 0.5,
      `${whole.duration} s recorded of ${span} s: ${seen}`,
    );
    // Cut where asked: the first split is not longer for want of a keyframe.
    const first = manifest.splits![0]!;
    assert.ok(first.stopTimeOffset - first.startTimeOffset <= 5600, seen);
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
    assert.equal((await api.call('POST', '/archive/00000000-0000-0000-0000-000000000000/stop')).status, 404);
    assert.equal((await api.call('GET', '/archive?count=-1')).status, 400);
    assert.ok(existsSync(join(dir.path, 'archives')));
  });

  it('records a stream whose resolution changes mid-stream, playable throughout', async () => {
    const clip = switchingClip;
    const room = await operator.createRoom();
    const waiting = await publish(room.id, { connectionData: 'Waiting' });
    const archive = await api.start({ sessionId: room.id, outputMode: 'individual' });
    await waiting.stop();
    const token = await operator.createToken(room.id, { connectionData: 'Switcher' });
    const publisher = await SyntheticPublisher.start({ whipUrl: token.whipUrl, token: token.token, clip });
    studio.publishers.push(publisher);
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
