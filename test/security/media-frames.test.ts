import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { RtpHeader, RtpPacket } from 'werift';
import { createLogger } from '../../src/main/logger';
import type { Stream } from '../../src/main/rooms/Stream';
import { StreamRecorder } from '../../src/main/recording/StreamRecorder';
import {
  MAX_AUDIO_FRAME_BYTES,
  MAX_VIDEO_FRAME_BYTES,
  TrackPipeline,
  type ReceivedFrame,
} from '../../src/main/recording/TrackPipeline';
import { tempDir } from '../helpers/tmp';

const packet = (seq: number, ts: number, payload: Buffer, marker: boolean) =>
  new RtpPacket(
    new RtpHeader({ sequenceNumber: seq, timestamp: ts, marker, payloadType: 96, ssrc: 1 }),
    payload,
  );

/** A VP8 keyframe (payload descriptor, frame tag, start code, 64×32) padded to `size` bytes. */
const vp8Key = (size = 200) =>
  Buffer.concat([
    Buffer.from([0x10, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x00, 0x20, 0x00]),
    Buffer.alloc(size),
  ]);
const vp8Delta = (size = 100) => Buffer.concat([Buffer.from([0x10, 0x11, 0x02, 0x00]), Buffer.alloc(size)]);
/** A continuation packet of a VP8 frame (no start-of-partition bit). */
const vp8More = (size: number) => Buffer.concat([Buffer.from([0x00]), Buffer.alloc(size)]);

/** Feeds VP8 frames as RTP: one packet each, or `parts` packets of `partSize` bytes. */
class Vp8Sender {
  seq = 1;
  ts = 90_000;
  constructor(readonly push: (p: RtpPacket) => void) {}
  frame(first: Buffer, parts = 0, partSize = 0): void {
    this.ts += 3000;
    this.push(packet(this.seq++, this.ts, first, parts === 0));
    for (let i = 0; i < parts; i++)
      this.push(packet(this.seq++, this.ts, vp8More(partSize), i === parts - 1));
  }
}

describe('media frames larger than the bound', () => {
  it('a video frame growing past the bound is discarded whole and counted; the next keyframe resumes', () => {
    const frames: ReceivedFrame[] = [];
    let keyframeRequests = 0;
    const pipeline = new TrackPipeline({
      kind: 'video',
      codec: 'VP8',
      clockRate: 90_000,
      maxFrameBytes: 10_000,
      onFrame: (f) => frames.push(f),
      onNeedKeyframe: () => keyframeRequests++,
    });
    const send = new Vp8Sender((p) => pipeline.push(p));
    send.frame(vp8Key());
    send.frame(vp8Delta());
    send.frame(vp8Delta(), 30, 1000); // ~31 KB: over the bound
    send.frame(vp8Delta()); // needs the picture it referenced: broken until a keyframe
    send.frame(vp8Key(), 5, 1000); // ~5 KB in 6 packets: under the bound
    send.frame(vp8Delta());
    pipeline.close();
    assert.equal(pipeline.stats.framesDropped.oversized, 1);
    assert.equal(pipeline.stats.framesDropped.broken, 1);
    assert.equal(keyframeRequests, 1);
    assert.deepEqual(
      frames.map((f) => f.keyframe),
      [true, false, true, false],
    );
    assert.ok(frames.every((f) => f.data.length <= 10_000));
  });

  it('an audio packet past the bound is dropped and counted, the ones around it kept', () => {
    const frames: ReceivedFrame[] = [];
    const pipeline = new TrackPipeline({
      kind: 'audio',
      codec: 'OPUS',
      clockRate: 48_000,
      onFrame: (f) => frames.push(f),
      onNeedKeyframe: () => {},
    });
    pipeline.push(packet(1, 960, Buffer.alloc(120, 1), true));
    pipeline.push(packet(2, 1920, Buffer.alloc(MAX_AUDIO_FRAME_BYTES + 1, 1), true));
    pipeline.push(packet(3, 2880, Buffer.alloc(120, 1), true));
    pipeline.close();
    assert.equal(frames.length, 2);
    assert.equal(pipeline.stats.framesDropped.oversized, 1);
  });

  describe('in a recording', () => {
    let dir: ReturnType<typeof tempDir>;
    beforeEach(() => (dir = tempDir()));
    afterEach(() => dir.remove());

    it('a 9 MB video frame is counted in the file report the manifest carries, and the file goes on after it', async () => {
      const rtp = new EventEmitter();
      const events = new EventEmitter();
      const track = {
        kind: 'video',
        track: {
          codec: { mimeType: 'video/VP8', clockRate: 90_000 },
          onReceiveRtp: {
            subscribe: (fn: (p: RtpPacket) => void) => {
              rtp.on('rtp', fn);
              return { unSubscribe: () => rtp.off('rtp', fn) };
            },
          },
        },
      };
      let fileStarted = () => {};
      let noFile = (_error: Error) => {};
      const started = new Promise<void>((resolve, reject) => {
        fileStarted = resolve;
        noFile = reject;
      });
      const stream = Object.assign(events, {
        id: 'stream-1',
        hasAudio: false,
        hasVideo: true,
        tracks: new Map([['video', track]]),
        requestKeyframe: () => {},
        onRtcp: () => () => {},
      }) as unknown as Stream;
      const recorder = new StreamRecorder({
        stream,
        dir: dir.path,
        baseName: 'stream-1',
        format: 'webm',
        audio: false,
        video: true,
        archiveStartMs: Date.now(),
        keyframeIntervalSec: 60,
        logger: createLogger({ level: 'silent' }),
        onFileStarted: () => fileStarted(),
      });
      const send = new Vp8Sender((p) => rtp.emit('rtp', p));
      for (let i = 0; i < 10; i++) send.frame(i === 0 ? vp8Key() : vp8Delta());
      // The file is open (its counters start here) before the big frame comes.
      const timeout = setTimeout(() => noFile(new Error('no file opened within 10 s')), 10_000);
      await started.finally(() => clearTimeout(timeout));
      // 9 MB in 64 KB packets: past the 8 MB bound.
      send.frame(vp8Delta(), Math.ceil((9 * 1024 * 1024) / 65_000), 65_000);
      for (let i = 0; i < 10; i++) send.frame(i === 0 ? vp8Key() : vp8Delta());
      const files = await recorder.stop();
      assert.ok(MAX_VIDEO_FRAME_BYTES < 9 * 1024 * 1024);
      assert.equal(files.length, 1);
      const drops = files[0]!.tracks?.video?.framesDropped;
      assert.equal(drops?.oversized, 1, JSON.stringify(drops));
      assert.equal(recorder.stats.video?.frames, 20);
      // The file holds the 20 frames around the dropped one, none of its bytes.
      const count = execFileSync(
        'ffprobe',
        [
          '-v',
          'error',
          '-count_packets',
          '-show_entries',
          'stream=nb_read_packets',
          '-of',
          'csv=p=0',
          join(dir.path, files[0]!.filename),
        ],
        { encoding: 'utf8' },
      ).trim();
      assert.equal(count, '20');
      assert.ok(files[0]!.size < 1024 * 1024, `file of ${files[0]!.size} bytes`);
    });
  });
});
