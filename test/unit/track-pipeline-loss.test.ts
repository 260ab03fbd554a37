import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RtpHeader, RtpPacket } from 'werift';
import { TrackPipeline, type ReceivedFrame } from '../../src/main/recording/TrackPipeline';

/** H.264 over RTP: FU-A fragments (indicator 0x7c: NRI 3, type 28) of one NAL unit. */
const fu = (type: number, part: 'start' | 'middle' | 'end', size = 300) =>
  Buffer.concat([
    Buffer.from([0x7c, (part === 'start' ? 0x80 : part === 'end' ? 0x40 : 0) | type]),
    Buffer.alloc(size, 0x11),
  ]);
/** A single-NAL packet: a non-IDR slice (type 1). */
const slice = () => Buffer.concat([Buffer.from([0x41]), Buffer.alloc(200, 0x22)]);
/** SPS and PPS in a STAP-A (type 24), as encoders send them before an IDR. */
const parameterSets = () => {
  const sps = Buffer.from([0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xe8]);
  const pps = Buffer.from([0x68, 0xce, 0x3c, 0x80]);
  const len = (b: Buffer) => Buffer.from([b.length >> 8, b.length & 0xff]);
  return Buffer.concat([Buffer.from([0x78]), len(sps), sps, len(pps), pps]);
};

describe('video after lost packets', () => {
  it('an H.264 keyframe whose first packets were lost is dropped, not written as a keyframe; the next whole keyframe resumes', () => {
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
    const send = (payloads: Buffer[], lose: number[] = []) => {
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
    };
    const keyframe = () => [parameterSets(), fu(5, 'start'), fu(5, 'middle'), fu(5, 'end')];
    send(keyframe());
    send([slice()]);
    // The parameter sets and the IDR's first fragment are lost: what is left must not pass as a keyframe.
    send(keyframe(), [0, 1]);
    now += 400; // past the wait for retransmissions
    send([slice()]);
    send([slice()]);
    now += 400;
    send(keyframe());
    send([slice()]);
    pipeline.close();
    assert.deepEqual(
      frames.map((f) => (f.keyframe ? 'key' : 'delta')),
      ['key', 'delta', 'key', 'delta'],
      'the broken keyframe and the slices after it are not written',
    );
    assert.equal(pipeline.stats.lostPackets, 2);
    assert.ok(pipeline.stats.framesDropped.broken >= 3, JSON.stringify(pipeline.stats.framesDropped));
    assert.ok(keyframeRequests >= 1);
  });
});
