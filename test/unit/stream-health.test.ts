import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MediaStreamTrack, RTCRtpCodecParameters, RtpHeader, RtpPacket, type RTCRtpReceiver } from 'werift';
import { Stream } from '../../src/main/rooms/Stream';
import { StreamHealth } from '../../src/main/rooms/StreamHealth';

/** A VP8 keyframe's first packet: payload descriptor (S=1, PID 0) and a frame header of this size. */
function vp8Keyframe(width = 640, height = 360): Buffer {
  const frame = Buffer.alloc(16);
  frame[0] = 0x10; // key frame (bit 0 = 0), show_frame
  frame[3] = 0x9d;
  frame[4] = 0x01;
  frame[5] = 0x2a;
  frame.writeUInt16LE(width, 6);
  frame.writeUInt16LE(height, 8);
  return Buffer.concat([Buffer.from([0x10]), frame]);
}

/** A stream with one VP8 video track whose packets the test writes. */
function videoStream() {
  const stream = new Stream({
    id: 's1',
    connectionId: 'c1',
    roomId: 'r1',
    sessionId: 'x',
    videoType: 'camera',
    hasAudio: false,
    hasVideo: true,
    recordingBlock: false,
    connectionData: 'Guest',
  });
  const track = new MediaStreamTrack({ kind: 'video' });
  track.codec = new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000 });
  const health = new StreamHealth(stream);
  // The stream keeps the last sender report of each track; this test sends none.
  const receiver = { onRtcp: { subscribe: () => ({ unSubscribe() {} }) } } as unknown as RTCRtpReceiver;
  stream.addTrack({ kind: 'video', track, receiver });
  let seq = 65000; // wraps within the test
  let timestamp = 0;
  /** Sends `frames` frames of `packetsPerFrame` packets; `drop(i)` says which packets are lost. */
  let keyframeSize: { width: number; height: number } | null = { width: 640, height: 360 };
  /** The next frame sent is a keyframe of this size. */
  const keyframe = (width: number, height: number) => (keyframeSize = { width, height });
  const send = (frames: number, packetsPerFrame: number, drop: (n: number) => boolean = () => false) => {
    for (let f = 0; f < frames; f += 1) {
      timestamp += 3000;
      for (let p = 0; p < packetsPerFrame; p += 1) {
        seq = (seq + 1) % 0x10000;
        if (drop(seq)) continue;
        const header = new RtpHeader({
          sequenceNumber: seq,
          timestamp,
          marker: p === packetsPerFrame - 1,
          payloadType: 96,
          ssrc: 1,
        });
        const payload =
          f === 0 && p === 0 && keyframeSize !== null
            ? vp8Keyframe(keyframeSize.width, keyframeSize.height)
            : Buffer.alloc(1000, 1);
        track.onReceiveRtp.execute(new RtpPacket(header, payload));
      }
      keyframeSize = null;
    }
  };
  return { stream, health, send, keyframe };
}

describe('stream health', () => {
  it('measures bitrate, frame rate and size, across a sequence-number wrap, with no warning', () => {
    const t0 = Date.now(); // before the stream: the first interval is empty, not a few ms long
    const { health, send } = videoStream();
    health.sample(t0);
    send(30, 4);
    const s = health.sample(t0 + 1000);
    assert.equal(s.frameRate, 30);
    assert.equal(s.lossPercent, 0);
    assert.equal(s.width, 640);
    assert.equal(s.height, 360);
    assert.ok(s.bitrateKbps > 900 && s.bitrateKbps < 1000, `bitrate ${s.bitrateKbps}`);
    assert.deepEqual(s.warnings, []);
  });

  it('follows a size change at the next keyframe, whatever packet of its frame came before', () => {
    const t0 = Date.now(); // before the stream: the first interval is empty, not a few ms long
    const { health, send, keyframe } = videoStream();
    send(10, 4);
    assert.equal(health.sample(t0 + 1000).width, 640);
    send(5, 4);
    keyframe(320, 180);
    send(10, 4);
    const s = health.sample(t0 + 2000);
    assert.deepEqual([s.width, s.height], [320, 180]);
  });

  it('warns when more than 2 % of packets are lost, and not at 1 %', () => {
    const t0 = Date.now(); // before the stream: the first interval is empty, not a few ms long
    const { health, send } = videoStream();
    health.sample(t0);
    send(30, 10, (seq) => seq % 100 === 0); // 1 %
    assert.deepEqual(health.sample(t0 + 1000).warnings, []);
    send(30, 10, (seq) => seq % 20 === 0); // 5 %
    const lossy = health.sample(t0 + 2000);
    assert.ok(lossy.lossPercent > 2, `loss ${lossy.lossPercent}`);
    assert.ok(lossy.warnings.includes('loss'));
  });

  it('warns when the frame rate falls to half of its recent best', () => {
    const t0 = Date.now(); // before the stream: the first interval is empty, not a few ms long
    const { health, send } = videoStream();
    health.sample(t0);
    send(30, 2);
    health.sample(t0 + 1000);
    send(30, 2);
    assert.deepEqual(health.sample(t0 + 2000).warnings, []);
    send(14, 2);
    assert.deepEqual(health.sample(t0 + 3000).warnings, [], 'one slow second averages to 22 fps');
    send(30, 2);
    assert.deepEqual(health.sample(t0 + 4000).warnings, [], 'a burst after a stall is not a drop');
    send(10, 2);
    health.sample(t0 + 5000);
    send(10, 2);
    const slow = health.sample(t0 + 6000);
    assert.equal(slow.frameRate, 10);
    assert.deepEqual(slow.warnings, ['frameRate']);
  });

  it('a camera turned off is not a frame-rate drop', () => {
    const t0 = Date.now(); // before the stream: the first interval is empty, not a few ms long
    const { stream, health, send } = videoStream();
    health.sample(t0);
    send(30, 2);
    health.sample(t0 + 1000);
    stream.setMuted('video', true);
    assert.deepEqual(health.sample(t0 + 2000).warnings, []);
    stream.setMuted('video', false);
    send(30, 2);
    assert.deepEqual(health.sample(t0 + 3000).warnings, []);
  });
});
