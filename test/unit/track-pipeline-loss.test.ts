import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RtpHeader, RtpPacket } from 'werift';
import { startsPicture, TrackPipeline, type ReceivedFrame } from '../../src/main/recording/TrackPipeline';

/** H.264 over RTP: FU-A fragments (indicator 0x7c: NRI 3, type 28) of one NAL unit. */
const fu = (type: number, part: 'start' | 'middle' | 'end', size = 300) =>
  Buffer.concat([
    Buffer.from([0x7c, (part === 'start' ? 0x80 : part === 'end' ? 0x40 : 0) | type]),
    // The slice header's first bit: first_mb_in_slice = 0 (the picture's first slice).
    Buffer.alloc(size, 0x88),
  ]);
/** A single-NAL packet: a non-IDR slice (type 1). */
const slice = () => Buffer.concat([Buffer.from([0x41]), Buffer.alloc(200, 0x88)]);
/** SPS and PPS in a STAP-A (type 24), as encoders send them before an IDR. */
const parameterSets = () => {
  const sps = Buffer.from([0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xe8]);
  const pps = Buffer.from([0x68, 0xce, 0x3c, 0x80]);
  const len = (b: Buffer) => Buffer.from([b.length >> 8, b.length & 0xff]);
  return Buffer.concat([Buffer.from([0x78]), len(sps), sps, len(pps), pps]);
};

/** A video pipeline on a fake clock, and a sender of H.264 pictures that can lose packets. */
function h264Pipeline() {
  let now = 0;
  const frames: ReceivedFrame[] = [];
  let keyframeRequests = 0;
  const pipeline = new TrackPipeline({
    kind: 'video',
    codec: 'MPEG4/ISO/AVC',
    clockRate: 90_000,
    now: () => now,
    onFrame: (f) => frames.push(f),
    onNeedKeyframe: () => keyframeRequests++,
  });
  let seq = 100;
  let ts = 90_000;
  return {
    pipeline,
    kinds: () => frames.map((f) => (f.keyframe ? 'key' : 'delta')),
    keyframeRequests: () => keyframeRequests,
    /** One picture as RTP packets (marker on the last), leaving out those at `lose`. */
    send(payloads: Buffer[], lose: number[] = []) {
      ts += 3000;
      payloads.forEach((payload, i) => {
        const s = seq++;
        if (lose.includes(i)) return;
        const header = new RtpHeader({
          sequenceNumber: s,
          timestamp: ts,
          marker: i === payloads.length - 1,
          payloadType: 96,
          ssrc: 1,
        });
        pipeline.push(new RtpPacket(header, payload));
      });
      now += 33;
    },
    /** Past the wait for retransmissions. */
    wait: () => (now += 400),
  };
}
const keyframe = () => [parameterSets(), fu(5, 'start'), fu(5, 'middle'), fu(5, 'end')];

describe('video after lost packets', () => {
  it('an H.264 keyframe whose first packets were lost is dropped, not written as a keyframe; the next whole keyframe resumes', () => {
    const h = h264Pipeline();
    h.send(keyframe());
    h.send([slice()]);
    // The parameter sets and the IDR's first fragment are lost: what is left must not pass as a keyframe.
    h.send(keyframe(), [0, 1]);
    h.wait();
    h.send([slice()]);
    h.send([slice()]);
    h.wait();
    h.send(keyframe());
    h.send([slice()]);
    h.pipeline.close();
    assert.deepEqual(
      h.kinds(),
      ['key', 'delta', 'key', 'delta'],
      'the broken keyframe and the slices after it are not written',
    );
    assert.equal(h.pipeline.stats.lostPackets, 2);
    assert.ok(h.pipeline.stats.framesDropped.broken >= 3, JSON.stringify(h.pipeline.stats.framesDropped));
    assert.ok(h.keyframeRequests() >= 1);
  });

  it('a whole picture lost before a keyframe: the keyframe, complete from its first packet, is kept', () => {
    const h = h264Pipeline();
    h.send(keyframe());
    h.send([slice()], [0]); // a delta picture lost whole
    h.send(keyframe());
    h.wait();
    h.send([slice()]);
    h.pipeline.close();
    assert.deepEqual(h.kinds(), ['key', 'key', 'delta']);
    assert.equal(h.pipeline.stats.lostPackets, 1);
  });

  it('a track joined in the middle of an H.264 keyframe: its tail is not written as a keyframe', () => {
    const h = h264Pipeline();
    // The recorder subscribed while the sender was halfway through a keyframe: the first packets
    // seen are its last fragments (their FU headers still say IDR).
    h.send(keyframe(), [0, 1]);
    h.send([slice()]);
    h.send(keyframe());
    h.send([slice()]);
    h.pipeline.close();
    assert.deepEqual(h.kinds(), ['key', 'delta'], 'the tail and the slice after it are not written');
    assert.equal(h.pipeline.stats.framesDropped.broken, 2, JSON.stringify(h.pipeline.stats.framesDropped));
    assert.equal(h.pipeline.stats.lostPackets, 0);
  });

  it("tells a picture's first packet from the rest, per codec", () => {
    const b = (...bytes: number[]) => Buffer.from(bytes);
    assert.equal(startsPicture('VP8', b(0x10, 0x00)), true, 'VP8 S=1, partition 0');
    assert.equal(startsPicture('VP8', b(0x90, 0x80, 0x05, 0x00)), true, 'VP8 with extensions');
    assert.equal(startsPicture('VP8', b(0x00, 0x00)), false, 'VP8 continuation');
    assert.equal(startsPicture('VP8', b(0x11, 0x00)), false, 'VP8 partition 1');
    assert.equal(startsPicture('VP9', b(0x08)), true, 'VP9 B=1');
    assert.equal(startsPicture('VP9', b(0x04)), false, 'VP9 end only');
    assert.equal(startsPicture('AV1', b(0x10)), true, 'AV1 Z=0');
    assert.equal(startsPicture('AV1', b(0x90)), false, 'AV1 continuing an OBU');
    assert.equal(startsPicture('MPEG4/ISO/AVC', parameterSets()), true, 'STAP-A with SPS');
    assert.equal(startsPicture('MPEG4/ISO/AVC', fu(5, 'start')), true, 'FU-A start of a first slice');
    assert.equal(startsPicture('MPEG4/ISO/AVC', fu(5, 'middle')), false, 'FU-A middle');
    assert.equal(startsPicture('MPEG4/ISO/AVC', b(0x41, 0x88)), true, 'a first slice alone');
    assert.equal(startsPicture('MPEG4/ISO/AVC', b(0x41, 0x40)), false, 'a later slice of a picture');
  });
});
