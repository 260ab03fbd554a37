import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RtcpPacketConverter, RtcpTransportLayerFeedback, TransportWideCC } from 'werift';
import { claimedDeltas, installRtcpBounds } from '../../src/main/rooms/rtcpBounds';

/** An RTCP transport-cc feedback packet (RTPFB, FMT 15) with these chunks and delta bytes. */
function transportCc(statusCount: number, chunks: number[], deltas: number[]): Buffer {
  const fci = Buffer.alloc(16 + chunks.length * 2 + deltas.length);
  fci.writeUInt32BE(0x11111111, 0);
  fci.writeUInt32BE(0x22222222, 4);
  fci.writeUInt16BE(100, 8);
  fci.writeUInt16BE(statusCount, 10);
  fci.writeUIntBE(0x123456, 12, 3);
  fci[15] = 7;
  chunks.forEach((chunk, i) => fci.writeUInt16BE(chunk, 16 + i * 2));
  deltas.forEach((delta, i) => (fci[16 + chunks.length * 2 + i] = delta));
  const padded = Buffer.concat([fci, Buffer.alloc((4 - (fci.length % 4)) % 4)]);
  const header = Buffer.from([0x80 | 15, 205, 0, 0]);
  header.writeUInt16BE(padded.length / 4 + 1 - 1, 2);
  return Buffer.concat([header, padded]);
}

const runLength = (status: number, run: number) => (status << 13) | run;
/** Three received (small deltas), a vector of 14 one-bit symbols with two received, two lost. */
const wellFormed = transportCc(
  3 + 14 + 2,
  [runLength(1, 3), 0x8000 | 0b10000000000001, runLength(0, 2)],
  [4, 8, 12, 16, 20],
);

const feedbackOf = (packet: Buffer) => {
  const [parsed] = RtcpPacketConverter.deSerialize(packet);
  assert.ok(parsed instanceof RtcpTransportLayerFeedback);
  assert.ok(parsed.feedback instanceof TransportWideCC);
  return parsed.feedback;
};

describe("werift's transport-cc parsing, bounded", () => {
  it('counts the deltas werift would make without making them', () => {
    assert.deepEqual(claimedDeltas(wellFormed.subarray(4)), { deltas: 5, deltasAt: 22 });
    const hostile = transportCc(
      65535,
      Array.from({ length: 9 }, () => runLength(1, 8191)),
      [],
    );
    assert.equal(claimedDeltas(hostile.subarray(4))?.deltas, 65535);
    assert.equal(
      claimedDeltas(transportCc(20, [runLength(1, 3)], []).subarray(4)),
      null,
      'chunks past the end',
    );
  });

  it('parses well-formed feedback as werift does, and refuses feedback claiming more than it carries', () => {
    const before = feedbackOf(wellFormed);
    installRtcpBounds();
    const after = feedbackOf(wellFormed);
    assert.deepEqual(
      after.recvDeltas.map((d) => d.delta),
      before.recvDeltas.map((d) => d.delta),
    );
    assert.equal(after.recvDeltas.length, 5);
    assert.deepEqual(after.packetChunks.length, before.packetChunks.length);

    // 40 bytes claiming 65,535 received packets: werift made 65,535 objects first (~11 ms).
    const hostile = transportCc(
      65535,
      Array.from({ length: 9 }, () => runLength(1, 8191)),
      [],
    );
    const header = (RtcpPacketConverter.deSerialize(wellFormed)[0] as RtcpTransportLayerFeedback).header;
    assert.throws(
      () => TransportWideCC.deSerialize(hostile.subarray(4), header),
      /65535 packets received, 2 bytes for their deltas/,
    );
    // werift drops an RTCP packet whose parsing threw; what came before it in a compound is kept.
    assert.equal(RtcpPacketConverter.deSerialize(Buffer.concat([wellFormed, hostile])).length, 1);
  });
});
