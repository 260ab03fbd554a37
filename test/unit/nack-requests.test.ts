import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GenericNack, RtcpTransportLayerFeedback } from 'werift';
import { RTCRtpReceiver, RtcpPacketConverter, RtpHeader, RtpPacket } from 'werift';
import {
  DEFAULT_RTT_MS,
  GIVE_UP_MS,
  installNackRequests,
  MAX_ATTEMPTS,
  MAX_GAP,
  MAX_MISSING,
  MIN_RETRY_MS,
  NackRequests,
  nackRequestsOf,
} from '../../src/main/rooms/nackRequests';

const SSRC = 0x5eed;
const retryBeforeRtt = DEFAULT_RTT_MS + Math.max(5, DEFAULT_RTT_MS / 4);

/** Feeds sequence numbers (one stream) at a time. */
function feed(requests: NackRequests, seqs: number[], now: number, ssrc = SSRC): void {
  for (const seq of seqs) requests.received(ssrc, seq, now);
}

const lostAt = (requests: NackRequests, now: number) => requests.due(now).flatMap((r) => r.lost);

describe('NACK requests (the receiver side)', () => {
  it('asks for a lost packet at once, again after a round trip, and no more once it came', () => {
    const requests = new NackRequests();
    feed(requests, [100, 101, 103], 0);
    assert.deepEqual(lostAt(requests, 5), [102]);
    assert.deepEqual(lostAt(requests, 5 + retryBeforeRtt - 1), [], 'not again within a round trip');
    assert.deepEqual(lostAt(requests, 5 + retryBeforeRtt), [102], 'again after one');
    feed(requests, [102], 80);
    assert.deepEqual(lostAt(requests, 200), []);
    assert.equal(requests.missingCount, 0);
  });

  it('spaces its retries by the round trip that retransmissions measured', () => {
    const requests = new NackRequests();
    feed(requests, [1, 3], 0);
    assert.deepEqual(lostAt(requests, 10), [2]);
    feed(requests, [2], 12); // answered in 2 ms
    assert.equal(requests.rttMs, 2);
    assert.equal(requests.retryMs, MIN_RETRY_MS);
    feed(requests, [5], 20);
    assert.deepEqual(lostAt(requests, 20), [4]);
    assert.deepEqual(lostAt(requests, 20 + MIN_RETRY_MS), [4]);
  });

  it('gives up on a packet the recorder would no longer wait for, or after its last attempt', () => {
    const requests = new NackRequests();
    feed(requests, [10, 12], 0);
    let asked = 0;
    for (let t = 0; t <= GIVE_UP_MS + 50; t += 5) asked += lostAt(requests, t).length;
    assert.ok(asked >= 2 && asked <= MAX_ATTEMPTS, `asked ${asked} times`);
    assert.equal(requests.missingCount, 0);
    // With retries every 10 ms, the attempts run out first.
    const fast = new NackRequests();
    feed(fast, [1, 3], 0);
    lostAt(fast, 0);
    feed(fast, [2], 1);
    feed(fast, [4, 6], 10);
    let fastAsked = 0;
    for (let t = 10; t <= 400; t += 5) fastAsked += lostAt(fast, t).length;
    assert.equal(fastAsked, MAX_ATTEMPTS);
  });

  it('sees losses across the wrap of the sequence number and asks for them as 16-bit numbers', () => {
    const requests = new NackRequests();
    feed(requests, [65533, 65534, 1, 2], 0);
    assert.deepEqual(lostAt(requests, 5), [65535, 0]);
    feed(requests, [0, 65535], 10);
    assert.equal(requests.missingCount, 0);
  });

  it('keeps the streams of one receiver apart (simulcast layers)', () => {
    const requests = new NackRequests();
    for (let i = 0; i < 50; i++) {
      requests.received(1, 1000 + i, i);
      requests.received(2, 40000 + i, i);
    }
    assert.equal(requests.missingCount, 0);
    requests.received(2, 40051, 60);
    assert.deepEqual(requests.due(60), [{ ssrc: 2, lost: [40050] }]);
  });

  it('keeps the newest missing packets only, and takes a jump past the gap limit for a new stretch', () => {
    const requests = new NackRequests();
    feed(requests, [1, 600], 0);
    assert.equal(requests.missingCount, MAX_MISSING);
    assert.deepEqual(requests.lost()[0], 600 - MAX_MISSING);
    feed(requests, [600 + MAX_GAP + 2], 1);
    assert.equal(requests.missingCount, 0, 'a jump is no loss, and what was missing before it is let go');
    feed(requests, [600 + MAX_GAP + 3, 600 + MAX_GAP + 5], 2);
    assert.deepEqual(lostAt(requests, 2), [600 + MAX_GAP + 4]);
    // A sender that starts again far lower: its losses are asked for from there.
    feed(requests, [10, 11, 13], 3);
    assert.equal(requests.missingCount, 1);
    assert.deepEqual(lostAt(requests, 3), [12]);
    // Again and again (a hostile sender): the numbers asked for stay 16-bit.
    let seq = 13;
    for (let i = 0; i < 100; i++) feed(requests, [(seq = (seq + 65536 - 30000) % 65536)], 4);
    feed(requests, [(seq + 2) % 65536], 4);
    assert.deepEqual(lostAt(requests, 4), [(seq + 1) % 65536]);
    assert.deepEqual(requests.lost(), [(seq + 1) % 65536]);
  });
});

describe("werift's NackHandler replaced", () => {
  installNackRequests();

  /** A receiver as werift makes it, its NACKs caught on their way out. */
  function receiver() {
    const sent: GenericNack[] = [];
    const r = new RTCRtpReceiver({} as never, 'video', 0x1234) as unknown as {
      nack: { addPacket(p: RtpPacket): void; close(): void; lostSeqNumbers: number[] };
      dtlsTransport: unknown;
    };
    r.dtlsTransport = {
      sendRtcp: async (packets: RtcpTransportLayerFeedback[]) => {
        // Through the wire format: what the publisher reads.
        const bytes = Buffer.concat(packets.map((p) => p.serialize()));
        for (const p of RtcpPacketConverter.deSerialize(bytes))
          sent.push((p as RtcpTransportLayerFeedback).feedback as GenericNack);
      },
    };
    const packet = (seq: number) =>
      new RtpPacket(new RtpHeader({ ssrc: SSRC, sequenceNumber: seq, payloadType: 96 }), Buffer.alloc(10));
    return { nack: r.nack, sent, packet };
  }

  it('sends a generic NACK for a lost video packet, and stops when it came', async () => {
    const { nack, sent, packet } = receiver();
    try {
      for (const seq of [7, 8, 10]) nack.addPacket(packet(seq));
      assert.deepEqual(nack.lostSeqNumbers, [9]);
      const deadline = Date.now() + 2000;
      while (sent.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.ok(sent.length > 0, 'a NACK within 2 s');
      assert.deepEqual(sent[0]!.lost, [9]);
      assert.equal(sent[0]!.mediaSourceSsrc, SSRC);
      assert.equal(sent[0]!.senderSsrc, 0x1234);
      nack.addPacket(packet(9));
      assert.deepEqual(nack.lostSeqNumbers, []);
      const count = sent.length;
      await new Promise((r) => setTimeout(r, 3 * retryBeforeRtt));
      assert.equal(sent.length, count, 'nothing asked for once the packet came');
    } finally {
      nack.close();
    }
  });

  it('costs a hostile sender its own packets only: jumps of the sequence number mark no more than the limit', () => {
    // werift's handler marked every number of a jump as lost and sorted them all: these 100
    // packets held the thread ~6.4 s (measured); here each adds at most MAX_MISSING numbers.
    const { nack, packet } = receiver();
    try {
      const started = performance.now();
      for (let round = 0; round < 10; round++)
        for (const seq of [1, 30000, 60000, 65535, 30000, 60000, 65535, 30000, 60000, 65535])
          nack.addPacket(packet(seq));
      const elapsed = performance.now() - started;
      assert.ok(nack.lostSeqNumbers.length <= MAX_MISSING, `${nack.lostSeqNumbers.length} kept`);
      assert.ok(elapsed < 1000, `100 packets took ${Math.round(elapsed)} ms`);
    } finally {
      nack.close();
    }
  });

  it('is the handler of every receiver (the requests behind it are ours)', () => {
    const { nack, packet } = receiver();
    nack.addPacket(packet(1));
    assert.ok(nackRequestsOf(nack) instanceof NackRequests);
    nack.close();
  });
});
