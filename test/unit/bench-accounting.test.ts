import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { matchFrames, type SentFrames } from '../../bench/load/frames';
import { joinPath } from '../../bench/load/join';
import type { LoadCollect } from '../../bench/load/protocol';
import { ReplayPublisher, type Pacing } from '../../bench/load/ReplayPublisher';
import { payloadHash, type RtpClip } from '../../bench/load/rtpClip';
import { Tally } from '../../bench/load/Tally';
import { vp8DescriptorLength } from '../../src/main/recording/codecs';

const FRAME_MS = 1000 / 30;

/** A sender that sent `n` frames of pseudo-random sizes, one every frame interval from t = 0. */
function sender(n: number, loopFrames = n): SentFrames {
  const size = (i: number) => 1000 + (((i % loopFrames) * 7919) % 977);
  return {
    ms: Array.from({ length: n }, (_, i) => i * FRAME_MS),
    size: Array.from({ length: n }, (_, i) => size(i)),
    t: Array.from({ length: n }, (_, i) => 10_000 + i * FRAME_MS),
  };
}

/** A file holding sender frames `from`..`to` (exclusive) except `missing`, timed from its own 0. */
function file(sent: SentFrames, from: number, to: number, missing: number[] = []) {
  const frames = { ms: [] as number[], size: [] as number[] };
  for (let i = from; i < to; i++) {
    if (missing.includes(i)) continue;
    frames.ms.push(Math.round(sent.ms[i]! - sent.ms[from]!) + 3); // 1 ms timestamps, own origin
    frames.size.push(sent.size[i]!);
  }
  return frames;
}

/** The match of a file holding every one of the `n` frames expected, each at its time. */
const nothingLost = (n: number) => ({
  expected: n,
  matched: n,
  unmatched: 0,
  retimed: 0,
  aligned: true,
  missing: [],
});

describe('bench frame accounting', () => {
  it('counts nothing lost when the file holds every frame from its first one on', () => {
    const sent = sender(300);
    const result = matchFrames(sent, [file(sent, 40, 300)], FRAME_MS, [10_000, 20_000]);
    assert.deepEqual(result, nothingLost(260));
  });

  it('counts frames missing from the middle of a file as lost', () => {
    const sent = sender(300);
    const result = matchFrames(sent, [file(sent, 40, 300, [100, 101, 250])], FRAME_MS, [10_000, 20_000]);
    assert.equal(result.expected, 260);
    assert.equal(result.matched, 257);
    // Where: two stretches of sender media time.
    assert.deepEqual(result.missing, [
      [sent.ms[100], sent.ms[101]],
      [sent.ms[250], sent.ms[250]],
    ]);
  });

  it('counts frames missing at the end of the window as lost', () => {
    const sent = sender(300);
    const result = matchFrames(sent, [file(sent, 40, 290)], FRAME_MS, [10_000, 20_000]);
    assert.equal(result.expected - result.matched, 10);
  });

  it('anchors a looping clip at the pass the recording started in', () => {
    // The sizes repeat every 100 frames; only frames sent in the anchor range may start the file.
    const sent = sender(300, 100);
    const anchor: [number, number] = [sent.t[150]!, sent.t[190]!];
    const result = matchFrames(sent, [file(sent, 160, 300)], FRAME_MS, anchor);
    assert.deepEqual(result, nothingLost(140));
  });

  it("follows a step in the file's timeline (a sender stall taken for a pause) without counting frames lost", () => {
    const sent = sender(300);
    const recorded = file(sent, 40, 300, [120]);
    // From frame 150 on, the file's timestamps are 400 ms later than the sender's.
    const step = recorded.ms.findIndex((ms) => ms >= Math.round(sent.ms[150]! - sent.ms[40]!));
    for (let i = step; i < recorded.ms.length; i++) recorded.ms[i]! += 400;
    const result = matchFrames(sent, [recorded], FRAME_MS, [10_000, 20_000]);
    assert.deepEqual(result, {
      expected: 260,
      matched: 259,
      unmatched: 0,
      retimed: 0,
      aligned: true,
      missing: [[sent.ms[120]!, sent.ms[120]!]],
    });
  });

  it("counts the frames of a short step and its absorption in the file's timeline as recorded, not lost", () => {
    // What a recorder does with a sender report stamped late (werift senders): the video's mapping
    // steps 45 ms later for 12 frames, then back, the step back absorbed over 3 frames.
    const sent = sender(300);
    const recorded = file(sent, 40, 300, [200]);
    const from = recorded.ms.findIndex((ms) => ms >= Math.round(sent.ms[100]! - sent.ms[40]!));
    const shift = [...Array<number>(12).fill(45), 28, 12, 4];
    shift.forEach((ms, k) => (recorded.ms[from + k]! += ms));
    const result = matchFrames(sent, [recorded], FRAME_MS, [10_000, 20_000]);
    assert.deepEqual(result, {
      expected: 260,
      matched: 259,
      unmatched: 0,
      retimed: 13, // 12 and 4 ms are within the tolerance (0.4 of a frame)
      aligned: true,
      missing: [[sent.ms[200]!, sent.ms[200]!]],
    });
  });

  it('starts counting at the frame the file starts with when its timeline steps before the anchor', () => {
    // The file's timeline steps 25 ms later at its 15th frame: its first 30 frames fit no single
    // offset, so it is anchored after the step, whose offset puts its first frame a frame early.
    const sent = sender(300);
    const recorded = file(sent, 40, 300);
    for (let i = 14; i < recorded.ms.length; i++) recorded.ms[i]! += 25;
    const result = matchFrames(sent, [recorded], FRAME_MS, [10_000, 20_000]);
    assert.deepEqual(result, nothingLost(260));
  });

  it('anchors a file whose first frames fit nowhere a little later on', () => {
    const sent = sender(300);
    const recorded = file(sent, 40, 300);
    // The first 20 frames of the file carry sizes the sender never sent.
    for (let i = 0; i < 20; i++) recorded.size[i] = 1;
    const result = matchFrames(sent, [recorded], FRAME_MS, [10_000, 20_000]);
    assert.deepEqual(result, {
      expected: 260,
      matched: 240,
      unmatched: 20,
      retimed: 0,
      aligned: true,
      missing: [[sent.ms[40]!, sent.ms[59]!]],
    });
  });

  it('reports a file that matches nothing the sender sent', () => {
    const sent = sender(100);
    const alien = { ms: [0, 33, 67], size: [1, 2, 3] };
    const result = matchFrames(sent, [alien], FRAME_MS, [0, Infinity]);
    assert.equal(result.aligned, false);
  });
});

describe('bench packet accounting', () => {
  const payload = (i: number) => Buffer.from([i & 0xff, (i >> 8) & 0xff, 1, 2, 3]);
  const sentLog = (seqs: number[]) => ({
    seq: seqs,
    t: seqs.map((s) => s * 10),
    hash: seqs.map((s) => payloadHash(payload(s))),
  });

  it('counts loss per receiver against the sent sequence numbers and measures latency', () => {
    const collect: LoadCollect = {
      sent: { 'c1/video': sentLog([1, 2, 3, 4]) },
      bytes: {},
      frames: {},
      received: [
        {
          path: 'sfu',
          logs: {
            // 3 is lost, 2 arrives twice (a retransmission), 9 was sent outside the window.
            'c1/video': {
              seq: [1, 2, 2, 4, 9],
              t: [12, 25, 40, 43, 99],
              hash: [1, 2, 2, 4, 9].map((s) => payloadHash(payload(s))),
            },
          },
        },
        { path: 'sfu', logs: {} },
      ],
      lagMsP99: 0,
      lagMsMax: 0,
    };
    const figures = joinPath([collect], 'sfu');
    assert.equal(figures.expected, 8);
    assert.equal(figures.received, 3);
    assert.deepEqual([...figures.latencies], [2, 3, 5]);
  });

  it('does not count a packet whose payload differs from what was sent under its number', () => {
    const collect: LoadCollect = {
      sent: { 'c1/audio': sentLog([7]) },
      bytes: {},
      frames: {},
      received: [
        { path: 'sfu', logs: { 'c1/audio': { seq: [7], t: [80], hash: [payloadHash(payload(8))] } } },
      ],
      lagMsP99: 0,
      lagMsMax: 0,
    };
    const figures = joinPath([collect], 'sfu');
    assert.equal(figures.received, 0);
    assert.equal(figures.mismatched, 1);
  });

  it('reads the length of VP8 payload descriptors', () => {
    assert.equal(vp8DescriptorLength(Uint8Array.from([0x10, 0xaa])), 1);
    // X, then I with a 15-bit picture id.
    assert.equal(vp8DescriptorLength(Uint8Array.from([0x90, 0x80, 0x81, 0x23, 0xaa])), 4);
    // X, then I (7-bit id), L and T.
    assert.equal(vp8DescriptorLength(Uint8Array.from([0x90, 0xe0, 0x05, 0x01, 0x40, 0xaa])), 5);
  });
});

describe('bench publishers pace video as libwebrtc does', () => {
  const FRAME = 1000 / 30;
  /** One pass of 1 s: 30 frames, the last a keyframe of 60 packets (due just before the pass ends). */
  function clip(): RtpClip {
    const packets: RtpClip['packets'] = [];
    const rtp = (kind: 'audio' | 'video', bytes: number, frameEnd: boolean) => {
      const data = Buffer.alloc(12 + bytes, 0x55);
      data[0] = 0x80;
      data[1] = (frameEnd ? 0x80 : 0) | (kind === 'video' ? 96 : 111);
      return data;
    };
    for (let f = 0; f < 30; f++) {
      const count = f === 29 ? 60 : 2;
      for (let i = 0; i < count; i++)
        packets.push({
          kind: 'video',
          data: rtp('video', 1100, i === count - 1),
          rtpOffset: f * 3000,
          dueMs: f * FRAME,
          frameEnd: i === count - 1,
          frameSize: i === count - 1 ? count * 1100 : 0,
        });
    }
    for (let a = 0; a < 50; a++)
      packets.push({
        kind: 'audio',
        data: rtp('audio', 100, false),
        rtpOffset: a * 960,
        dueMs: a * 20,
        frameEnd: false,
        frameSize: 0,
      });
    packets.sort((x, y) => x.dueMs - y.dueMs);
    return { packets, durationMs: 1000, videoFrames: 30 };
  }

  async function run(pacing: Pacing) {
    const sends: Array<{ key: string; seq: number; t: number; bytes: number }> = [];
    const frames: Array<{ mediaMs: number; t: number }> = [];
    class Log extends Tally {
      override sent(key: string, seq: number, t: number, _hash: number, bytes: number): void {
        sends.push({ key, seq, t, bytes });
      }
      override frame(_key: string, mediaMs: number, _size: number, t: number): void {
        frames.push({ mediaMs, t });
      }
    }
    const publisher = new ReplayPublisher(clip(), new Log(), pacing);
    publisher.key = 'p';
    try {
      publisher.start(0);
      for (let t = 0; t <= 2400; t += 2) publisher.tick(t);
    } finally {
      await publisher.close();
    }
    return { sends, frames, video: sends.filter((s) => s.key === 'p/video') };
  }

  it('sends a keyframe over tens of ms at 2.5 × the bitrate, audio when due, each packet once, in order, in its pass', async () => {
    const pacing = { factor: 2.5, burstMs: 5 };
    const { sends, frames, video } = await run(pacing);
    // Two passes and the pacing of the last keyframe: every video packet of both passes went out, in sequence.
    assert.ok(video.length >= 2 * 118, `${video.length} video packets`);
    for (let i = 1; i < video.length; i++)
      assert.equal(video[i]!.seq, (video[i - 1]!.seq + 1) & 0xffff, `video sequence at ${i}`);
    // No 5 ms holds more than the burst plus the packet that overdraws it.
    const rate = (pacing.factor * (29 * 2 + 60) * 1112) / 1000;
    for (const s of video) {
      const inWindow = video.filter((o) => o.t > s.t - pacing.burstMs && o.t <= s.t);
      const bytes = inWindow.reduce((sum, o) => sum + o.bytes + 12, 0);
      assert.ok(bytes <= rate * pacing.burstMs + 2 * 1112 + rate * 2, `${bytes} bytes by ${s.t} ms`);
    }
    // The keyframe (due at 966.7 ms) leaves over (66 kB / rate) ≈ 200 ms, after the pass wrapped,
    // and is still stamped as the first pass's last frame.
    const keyframe = frames.find((f) => Math.abs(f.mediaMs - 29 * FRAME) < 0.01);
    assert.ok(keyframe, `the first keyframe: ${JSON.stringify(frames.slice(25, 32))}`);
    assert.ok(keyframe.t > 1100, `the keyframe ended at ${keyframe.t} ms`);
    assert.ok(
      frames.some((f) => Math.abs(f.mediaMs - (1000 + 29 * FRAME)) < 0.01),
      'the second keyframe',
    );
    // Audio is not held behind it: each packet within a tick of its due time.
    const audio = sends.filter((s) => s.key === 'p/audio');
    assert.ok(audio.length >= 100, `${audio.length} audio packets`);
    audio.slice(0, 100).forEach((s, i) => {
      const due = Math.floor(i / 50) * 1000 + (i % 50) * 20;
      assert.ok(s.t - due >= 0 && s.t - due <= 2, `audio ${i} due ${due} sent ${s.t}`);
    });
  });

  it('sends each frame at once without pacing', async () => {
    const { video } = await run({ factor: 0, burstMs: 5 });
    const keyframe = video.slice(58, 118);
    assert.ok(
      keyframe.every((s) => s.t === keyframe[0]!.t),
      `keyframe sent at ${[...new Set(keyframe.map((s) => s.t))]}`,
    );
  });
});
