import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  dePacketizeRtpPackets,
  DtlsClient,
  Event,
  GenericNack,
  RtcpPacketConverter,
  RtcpTransportLayerFeedback,
  ProtectionProfileAeadAes128Gcm,
  ProtectionProfileAes128CmHmacSha1_80,
  RTCRtpCodecParameters,
  RTCRtpReceiver,
  RTCRtpSender,
  RTP_EXTENSION_URI,
  RtpHeader,
  RtpPacket,
  SrtpAuthenticationError,
  type RtcpPacket,
  type SrtpSession,
} from 'werift';
import { depacketizeVp8 } from '../../src/main/recording/codecs';
import { PacketHistory, RESEND_MIN_MS } from '../../src/main/rooms/packetHistory';
import { srtpPair } from '../helpers/srtp';
import {
  cipherPrototype,
  installPacketPath,
  ntpTimestamp,
  parseRtpHeader,
  weriftOriginals,
  weriftSender,
} from '../../src/main/rooms/weriftPackets';

// werift's own code, taken before the faster paths replace it.
const originals = {
  ctr: { decrypt: cipherPrototype('ctr').decryptRtp, profile: ProtectionProfileAes128CmHmacSha1_80 },
  gcm: { decrypt: cipherPrototype('gcm').decryptRtp, profile: ProtectionProfileAeadAes128Gcm },
};
const originalParse = weriftOriginals.parseRtpHeader;
const receiverGetters = Object.fromEntries(
  (['nackEnabled', 'twccEnabled', 'pliEnabled'] as const).map((name) => [
    name,
    Object.getOwnPropertyDescriptor(RTCRtpReceiver.prototype, name)!.get!,
  ]),
) as Record<'nackEnabled' | 'twccEnabled' | 'pliEnabled', () => unknown>;

/** A receiver of werift's with its codecs negotiated (what `prepareReceive` takes). */
function receiverWith(feedback: string[][]): RTCRtpReceiver & {
  prepareReceive(params: unknown): void;
  resyncCodecs(params: unknown, ssrc?: number): void;
  runRtcp(): Promise<void>;
  rtcpRunning: boolean;
} {
  const receiver = new RTCRtpReceiver({} as never, 'video', 1234) as ReturnType<typeof receiverWith>;
  receiver.prepareReceive({ codecs: codecsWith(feedback), encodings: [] });
  return receiver;
}

function codecsWith(feedback: string[][]): RTCRtpCodecParameters[] {
  return feedback.map(
    (types, i) =>
      new RTCRtpCodecParameters({
        mimeType: i === 0 ? 'video/VP8' : 'video/rtx',
        clockRate: 90_000,
        payloadType: 96 + i,
        rtcpFeedback: types.map((type) => ({ type })),
      }),
  );
}

/** What a session's cipher does with RTP. */
interface Cipher {
  encryptRtp(header: RtpHeader, payload: Buffer, rolloverCounter: number): Buffer;
  decryptRtp(cipherText: Buffer, rolloverCounter: number): [Buffer, RtpHeader];
}

const cipherOf = (session: SrtpSession, side: 'localContext' | 'remoteContext') =>
  (session as unknown as Record<string, { cipher: Cipher }>)[side]!.cipher;

/** A deterministic pseudo-random source (the failures repeat). */
function prng(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

/** An RTP packet: CSRCs, one-byte, two-byte or other extensions, padding, any payload length. */
function packet(rand: (n: number) => number): Buffer {
  const extensions =
    rand(3) === 0
      ? []
      : Array.from({ length: 1 + rand(4) }, () => ({ id: 1 + rand(14), payload: randomBytes(1 + rand(8)) }));
  const header = new RtpHeader({
    marker: rand(2) === 1,
    payloadType: rand(128),
    sequenceNumber: rand(65536),
    timestamp: rand(2 ** 32),
    ssrc: rand(2 ** 32),
    csrc: Array.from({ length: rand(3) }, () => rand(2 ** 32)),
    extension: extensions.length > 0,
    extensionProfile: ([0xbede, 0x1000] as const)[rand(2)]!,
    extensions,
  });
  const payload = randomBytes(rand(1400));
  const padding = rand(4) === 0 ? 1 + rand(20) : 0;
  if (padding > 0) {
    header.padding = true;
    header.paddingSize = padding;
  }
  return new RtpPacket(header, payload).serialize();
}

/** Where a packet's header extension block ends by its length field (0: none or unreadable). */
function extensionEnd(bytes: Buffer): number {
  if (bytes.length < 12 || (bytes[0]! & 0x10) === 0) return 0;
  const at = 12 + (bytes[0]! & 0x0f) * 4;
  return at + 4 > bytes.length ? 0 : at + 4 + bytes.readUInt16BE(at + 2) * 4;
}

/** The outcome of a parse: its fields, or that it threw. */
function outcome(parse: () => RtpHeader): unknown {
  try {
    const h = parse();
    return { ...h, extensions: h.extensions.map((e) => ({ id: e.id, payload: e.payload.toString('hex') })) };
  } catch {
    return 'threw';
  }
}

describe('werift packet path', () => {
  it('parses RTP headers as werift does: well-formed packets, any byte changed, cut short', () => {
    const rand = prng(1);
    let compared = 0;
    for (let n = 0; n < 3000; n++) {
      const bytes = packet(rand);
      const variants = [bytes, bytes.subarray(0, rand(bytes.length + 1))];
      const changed = Buffer.from(bytes);
      for (let k = 0; k < 3; k++) changed[rand(Math.min(changed.length, 40))] = rand(256);
      variants.push(changed);
      for (const v of variants) {
        // A header extension running past the packet: werift's parse is quadratic in its length
        // (see the next test); not compared here.
        if (extensionEnd(v) > v.length) continue;
        assert.deepEqual(
          outcome(() => parseRtpHeader(v)),
          outcome(() => originalParse(v)),
          `packet ${v.toString('hex').slice(0, 120)}`,
        );
        compared++;
      }
    }
    assert.ok(compared > 8000, `${compared} compared`);
  });

  it('parses a header whose one-byte extension runs past the packet as werift does, without its junk entries or its time', () => {
    const header = new RtpHeader({
      sequenceNumber: 1,
      ssrc: 7,
      extension: true,
      extensionProfile: 0xbede,
      extensions: [{ id: 3, payload: Buffer.from([1, 2]) }],
    });
    const bytes = new RtpPacket(header, Buffer.alloc(40, 0x55)).serialize();
    for (const words of [30, 0xffff]) {
      const forged = Buffer.from(bytes);
      forged.writeUInt16BE(words, 14); // the extension's length, in 32-bit words
      const ours = parseRtpHeader(forged);
      assert.equal(ours.payloadOffset >= 16 + words * 4, true, `${words} words: the payload after the block`);
      assert.ok(
        ours.extensions.length <= forged.length,
        `${words} words: ${ours.extensions.length} extensions`,
      );
      if (words > 100) continue; // werift: minutes
      const theirs = originalParse(forged);
      const real = (h: RtpHeader) => h.extensions.filter((e) => e.id !== 0 || e.payload.length > 0);
      assert.deepEqual(
        outcome(() => Object.assign(ours, { extensions: real(ours) })),
        outcome(() => Object.assign(theirs, { extensions: real(theirs) })),
      );
    }
  });

  for (const [name, original] of Object.entries(originals))
    it(`${name.toUpperCase()}: unprotects RTP as werift does, and refuses what werift refuses`, () => {
      installPacketPath();
      assert.equal(RtpHeader.deSerialize, parseRtpHeader, 'installed');
      const rand = prng(2);
      const { sender, receiver } = srtpPair(original.profile);
      const senderCipher = cipherOf(sender, 'localContext');
      const receiverCipher = cipherOf(receiver(), 'remoteContext');
      for (let n = 0; n < 2000; n++) {
        const bytes = packet(rand);
        const header = RtpHeader.deSerialize(bytes);
        // What follows the header, padding included (as a sender passes it).
        const payload = bytes.subarray(header.payloadOffset);
        const roc = [0, 1, 0xffff, 2 ** 32 - 1][rand(4)]!;
        // Protected by werift (the studio protects with werift's own code).
        const wire = senderCipher.encryptRtp(header, payload, roc);
        const [plain, plainHeader] = receiverCipher.decryptRtp(wire, roc);
        const [plainTheirs, headerTheirs] = original.decrypt.call(receiverCipher, wire, roc) as [
          Buffer,
          RtpHeader,
        ];
        assert.ok(
          plain.equals(plainTheirs) && plain.equals(bytes),
          `packet ${n}: unprotected as werift does`,
        );
        assert.deepEqual(
          outcome(() => plainHeader),
          outcome(() => headerTheirs),
        );
        // A changed byte anywhere, or another rollover counter: both refuse.
        const tampered = Buffer.from(wire);
        tampered[rand(tampered.length)] ^= 1 + rand(255);
        for (const [bad, r] of [
          [tampered, roc],
          [wire, (roc + 1) >>> 0],
        ] as const) {
          assert.throws(() => receiverCipher.decryptRtp(bad, r), SrtpAuthenticationError);
          assert.throws(() => original.decrypt.call(receiverCipher, bad, r), SrtpAuthenticationError);
        }
      }
    });

  for (const [name, original] of Object.entries(originals))
    it(`${name.toUpperCase()}: a whole session: what werift protects unprotects in order across a sequence-number wrap`, () => {
      installPacketPath();
      const { sender, receiver } = srtpPair(original.profile);
      const into = receiver();
      const context = (
        sender as unknown as {
          localContext: {
            cipher: Cipher;
            getSrtpSsrcState(ssrc: number): { rolloverCounter: number };
            updateRolloverCount(seq: number, s: unknown): void;
          };
        }
      ).localContext;
      for (let i = 0; i < 300; i++) {
        const header = new RtpHeader({
          sequenceNumber: (65_400 + i) & 0xffff,
          timestamp: i * 3000,
          ssrc: 42,
        });
        const payload = randomBytes(100 + i);
        // werift's own protection, with the context's rollover counter (the wrap at 65,536).
        const state = context.getSrtpSsrcState(42);
        context.updateRolloverCount(header.sequenceNumber, state);
        const wire = context.cipher.encryptRtp(header, payload, state.rolloverCounter);
        const plain = RtpPacket.deSerialize(into.decrypt(wire));
        assert.equal(plain.header.sequenceNumber, header.sequenceNumber);
        assert.ok(plain.payload.equals(payload), `packet ${i}`);
      }
    });
});

/** A VP8 payload descriptor (RFC 7741 §4.2) with the given optional fields, then `body`. */
function vp8Payload(
  rand: (n: number) => number,
  fields: { start: boolean; pid: number; pictureId?: 7 | 15; tl0?: boolean; tid?: boolean; keyIdx?: boolean },
  body: Buffer,
): Buffer {
  const extended = fields.pictureId !== undefined || fields.tl0 || fields.tid || fields.keyIdx;
  const bytes = [(extended ? 0x80 : 0) | (fields.start ? 0x10 : 0) | fields.pid];
  if (extended) {
    bytes.push(
      (fields.pictureId ? 0x80 : 0) |
        (fields.tl0 ? 0x40 : 0) |
        (fields.tid ? 0x20 : 0) |
        (fields.keyIdx ? 0x10 : 0),
    );
    if (fields.pictureId === 7) bytes.push(rand(128));
    if (fields.pictureId === 15) bytes.push(0x80 | rand(128), rand(256));
    if (fields.tl0) bytes.push(rand(256));
    if (fields.tid || fields.keyIdx) bytes.push(rand(256));
  }
  return Buffer.concat([Buffer.from(bytes), body]);
}

describe('werift receiver shortcuts', () => {
  installPacketPath();
  const answers = (receiver: RTCRtpReceiver) =>
    (['nackEnabled', 'twccEnabled', 'pliEnabled'] as const).map((name) => [
      (receiver as unknown as Record<string, unknown>)[name],
      receiverGetters[name].call(receiver),
    ]);

  it('answers NACK, transport-cc and PLI as werift does, again after the codecs change', () => {
    const receiver = receiverWith([['nack', 'transport-cc', 'nack'], []]);
    for (const [kept, werift] of answers(receiver)) assert.deepEqual(kept, werift);
    assert.deepEqual((receiver as unknown as { nackEnabled: unknown }).nackEnabled, { type: 'nack' });
    // Renegotiated without NACK nor transport-cc: the kept answers follow.
    receiver.resyncCodecs({ codecs: codecsWith([['ccm'], ['nack']]), encodings: [] });
    for (const [kept, werift] of answers(receiver)) assert.deepEqual(kept, werift);
    assert.equal((receiver as unknown as { nackEnabled: unknown }).nackEnabled, undefined);
    receiver.prepareReceive({ codecs: codecsWith([['transport-cc']]), encodings: [] });
    assert.deepEqual((receiver as unknown as { twccEnabled: unknown }).twccEnabled, { type: 'transport-cc' });
  });

  it('clones a packet as werift does: every header field, the same shared values', () => {
    const rand = prng(7);
    for (let i = 0; i < 500; i++) {
      const header = new RtpHeader({
        marker: rand(2) === 1,
        padding: rand(4) === 0,
        paddingSize: rand(8),
        payloadType: rand(128),
        sequenceNumber: rand(65_536),
        timestamp: rand(2 ** 32),
        ssrc: rand(2 ** 32),
        csrcLength: 1,
        csrc: [rand(1000)],
        extension: true,
        extensions: [{ id: 1 + rand(14), payload: randomBytes(1 + rand(4)) }],
        extensionLength: 8,
        payloadOffset: 12 + rand(40),
      });
      const packet = new RtpPacket(
        originalParse(new RtpPacket(header, randomBytes(20)).serialize()),
        randomBytes(30),
      );
      const ours = packet.clone();
      const werift = weriftOriginals.clone.call(packet);
      assert.notEqual(ours.header, packet.header);
      assert.deepEqual({ ...ours.header }, { ...werift.header });
      assert.equal(Object.getPrototypeOf(ours.header), Object.getPrototypeOf(werift.header));
      assert.equal(ours.header.extensions, packet.header.extensions);
      assert.equal(ours.payload, packet.payload);
    }
  });

  it('writes NTP time as seconds since 1900 and a binary fraction (werift wrote the decimal digits)', () => {
    const epoch = 2_208_988_800n;
    assert.equal(ntpTimestamp(0), epoch << 32n);
    assert.equal(ntpTimestamp(1500), ((epoch + 1n) << 32n) | 0x8000_0000n);
    assert.equal(ntpTimestamp(250.25) & 0xffff_ffffn, BigInt(Math.floor(0.25025 * 2 ** 32)));
  });

  it('names a codec by its MIME type, again when the type changes', () => {
    const codec = new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90_000, payloadType: 96 });
    assert.equal(codec.name, 'VP8');
    assert.equal(codec.name, 'VP8');
    codec.mimeType = 'audio/opus';
    assert.equal(codec.name, 'opus');
    codec.mimeType = 'nonsense';
    assert.equal(codec.name, undefined);
  });

  it('starts the RTCP report loop once, and not on a stopped receiver', async () => {
    const receiver = receiverWith([['nack']]);
    const first = receiver.runRtcp();
    assert.equal(receiver.rtcpRunning, true);
    await receiver.runRtcp(); // returns at once: the loop runs
    assert.equal(receiver.rtcpRunning, true);
    receiver.stop();
    await first;
    assert.equal(receiver.rtcpRunning, false);
    await receiver.runRtcp();
    assert.equal(receiver.rtcpRunning, false, 'a stopped receiver reports nothing');
  });
});

/** A werift sender with its transport connected: what it sends, serialized, in `sent`. */
function senderWith(headerExtensions: Array<{ id: number; uri: string }>) {
  const sent: Buffer[] = [];
  const sender = new RTCRtpSender('video') as unknown as Record<string, unknown> & {
    dispatchRtp(rtp: RtpPacket | Buffer): Promise<void>;
    sendRtp(rtp: RtpPacket | Buffer): Promise<void>;
    scheduleRtpContinuity(step?: number): void;
    stop(): void;
    rtpCache: RtpPacket[];
    packetHistory?: PacketHistory;
    handleRtcpPacket(packet: RtcpTransportLayerFeedback): void;
    senderBWE: { sentInfos: Record<number, { wideSeq: number; size: number }> };
    dtlsTransport: { transportSequenceNumber: number; state: string };
    ntpTimestamp: bigint;
  };
  Object.assign(sender, {
    dtlsTransport: {
      state: 'connected',
      transportSequenceNumber: 65_530,
      sendRtp: async (payload: Buffer, header: RtpHeader) => {
        const bytes = new RtpPacket(header, payload).serialize();
        sent.push(bytes);
        return bytes.length;
      },
    },
    codec: new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90_000, payloadType: 98 }),
    ssrc: 0xdeadbeef,
    mid: '3',
    rtpStreamId: 'hi',
    headerExtensions,
    seqOffset: 1000,
    timestampOffset: 4_000_000_000,
    // No report loop in a unit test.
    rtcpRunning: true,
  });
  return { sender, sent };
}

/** Unix milliseconds of an NTP timestamp. */
const unixMsOf = (ntp: bigint) =>
  Number(ntp >> 32n) * 1000 + (Number(ntp & 0xffff_ffffn) / 2 ** 32) * 1000 - 2_208_988_800_000;

/** The 24-bit abs-send-time of `unixMs` (6.18 fixed-point seconds of the NTP time). */
const absSendTimeOf = (unixMs: number) => Number((ntpTimestamp(unixMs) >> 14n) & 0xffffffn);

describe('werift sender', () => {
  installPacketPath();
  const ext = (id: number, uri: string) => ({ id, uri });
  const layouts: Array<[string, Array<{ id: number; uri: string }>]> = [
    ['nothing negotiated (the studio: the publisher extensions pass as they are)', []],
    [
      'MID, RID, transport-cc and abs-send-time negotiated, a publisher extension on some of their ids',
      [
        ext(4, RTP_EXTENSION_URI.transportWideCC),
        ext(1, RTP_EXTENSION_URI.sdesMid),
        ext(3, RTP_EXTENSION_URI.absSendTime),
        ext(2, RTP_EXTENSION_URI.sdesRTPStreamID),
        ext(9, RTP_EXTENSION_URI.repairedRtpStreamId),
        ext(10, RTP_EXTENSION_URI.audioLevelIndication),
      ],
    ],
  ];
  for (const [name, headerExtensions] of layouts) {
    it(`sends what werift sends, with the time right: ${name}`, async () => {
      const rand = prng(11);
      const theirs = senderWith(headerExtensions);
      const ours = senderWith(headerExtensions);
      const absId = headerExtensions.find((e) => e.uri === RTP_EXTENSION_URI.absSendTime)?.id;
      const withoutTime = (h: RtpHeader) =>
        h.extensions.map((e) => [e.id, e.id === absId ? null : e.payload]);
      for (let i = 0; i < 300; i++) {
        const ids = [...new Set(Array.from({ length: rand(4) }, () => 1 + rand(14)))];
        const header = new RtpHeader({
          marker: rand(2) === 1,
          payloadType: 96,
          sequenceNumber: (65_000 + i * 7) % 65_536,
          timestamp: (4_294_000_000 + i * 3000) % 2 ** 32,
          ssrc: 42,
          extension: ids.length > 0,
          extensions: ids.map((id) => ({ id, payload: randomBytes(1 + rand(3)) })),
        });
        const packet = new RtpPacket(
          originalParse(new RtpPacket(header, randomBytes(8)).serialize()),
          randomBytes(40),
        );
        const before = Date.now();
        await weriftSender.dispatchRtp.call(theirs.sender, packet);
        await ours.sender.dispatchRtp(packet);
        const after = Date.now();
        const [a, b] = [theirs.sent.at(-1)!, ours.sent.at(-1)!];
        const [ha, hb] = [originalParse(a), originalParse(b)];
        assert.deepEqual(withoutTime(hb), withoutTime(ha), `packet ${i}: extensions`);
        assert.deepEqual(b.subarray(hb.payloadOffset), a.subarray(ha.payloadOffset), `packet ${i}: payload`);
        for (const field of ['marker', 'payloadType', 'sequenceNumber', 'timestamp', 'ssrc'] as const)
          assert.equal(hb[field], ha[field], `packet ${i}: ${field}`);
        const abs = hb.extensions.find((e) => e.id === absId && !ids.includes(e.id));
        if (abs !== undefined) {
          // Within 20 ms of the wall clock (the sender reads the monotonic clock from its origin;
          // werift's decimal-digit fraction is off by up to a second).
          const value = abs.payload.readUIntBE(0, 3);
          const late = ((value - absSendTimeOf(before) + 2 ** 23) & 0xffffff) - 2 ** 23; // 24 bits wrap
          const slack = 20 * 262.144;
          assert.ok(
            late >= -slack && late <= (after - before) * 262.144 + slack,
            `packet ${i}: abs-send-time ${value}, ${late / 262.144} ms from the clock`,
          );
        }
        const ntp = unixMsOf(ours.sender.ntpTimestamp);
        assert.ok(
          ntp >= before - 20 && ntp <= after + 20,
          `packet ${i}: NTP time ${ntp - before} ms from the clock`,
        );
      }
      for (const field of [
        'packetCount',
        'octetCount',
        'headerBytesSent',
        'sequenceNumber',
        'timestamp',
        'rtpTimestamp',
      ])
        assert.equal(ours.sender[field], theirs.sender[field], field);
      assert.equal(
        ours.sender.dtlsTransport.transportSequenceNumber,
        theirs.sender.dtlsTransport.transportSequenceNumber,
      );
      // The retransmission history holds the packets werift's cache holds (ours as bytes), and
      // a NACK makes both send the same packets again (one of the sequence numbers not kept).
      const lost: number[] = [];
      for (const p of theirs.sender.rtpCache) {
        if (p === undefined) continue;
        const kept = ours.sender.packetHistory!.get(p.header.sequenceNumber);
        assert.ok(kept, `packet ${p.header.sequenceNumber} kept`);
        assert.deepEqual(withoutTime(kept.header), withoutTime(p.header));
        assert.deepEqual(kept.payload, p.payload);
        if (lost.length < 5) lost.push(p.header.sequenceNumber);
      }
      lost.push((lost[0]! + 64) % 65_536);
      const nack = new RtcpTransportLayerFeedback({
        feedback: new GenericNack({ senderSsrc: 1, mediaSourceSsrc: 42, lost }),
      });
      const [sentBefore, theirsBefore] = [ours.sent.length, theirs.sent.length];
      ours.sender.handleRtcpPacket(nack);
      weriftSender.handleRtcpPacket.call(theirs.sender, nack);
      await new Promise((resolve) => setImmediate(resolve));
      const again = (list: Buffer[], from: number) =>
        list.slice(from).map((b) => {
          const h = originalParse(b);
          return [withoutTime(h), h.sequenceNumber, b.subarray(h.payloadOffset)];
        });
      assert.equal(ours.sent.length - sentBefore, 5, 'the five packets kept are sent again');
      assert.deepEqual(again(ours.sent, sentBefore), again(theirs.sent, theirsBefore));
      for (const field of [
        'nackCount',
        'retransmittedPacketsSent',
        'retransmittedBytesSent',
        'headerBytesSent',
      ])
        assert.equal(ours.sender[field], theirs.sender[field], field);
      const infos = (s: typeof ours.sender) =>
        Object.values(s.senderBWE.sentInfos).map(({ wideSeq, size }) => [wideSeq, size]);
      assert.deepEqual(infos(ours.sender), infos(theirs.sender));
    });
  }

  it('sends nothing when stopped or not connected, and takes bytes and a source switch through werift', async () => {
    const { sender, sent } = senderWith([]);
    const packet = new RtpPacket(
      new RtpHeader({ payloadType: 96, sequenceNumber: 10, timestamp: 900 }),
      randomBytes(20),
    );
    sender.dtlsTransport.state = 'connecting';
    await sender.sendRtp(packet);
    sender.dtlsTransport.state = 'connected';
    await sender.sendRtp(packet.serialize());
    assert.equal(sent.length, 1);
    assert.equal(originalParse(sent[0]!).sequenceNumber, 1010);
    sender.scheduleRtpContinuity();
    const before = Date.now();
    await sender.sendRtp(
      new RtpPacket(new RtpHeader({ payloadType: 96, sequenceNumber: 500, timestamp: 9 }), randomBytes(20)),
    );
    assert.equal(originalParse(sent[1]!).sequenceNumber, 1011, 'the sequence continues across the switch');
    const ntp = unixMsOf(sender.ntpTimestamp);
    assert.ok(ntp >= before - 20 && ntp <= Date.now() + 20, `NTP time ${ntp - before} ms from the clock`);
    sender.stop();
    await sender.sendRtp(packet);
    assert.equal(sent.length, 2);
  });
});

describe('werift patched after install (scripts/patch-werift.mjs)', () => {
  it('is patched: every change in place', () => {
    const run = spawnSync(process.execPath, ['scripts/patch-werift.mjs', '--check'], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
  });

  it('an event makes no promise when no listener is queued, and still awaits a queued one', async () => {
    const event = new Event<[number]>();
    const got: number[] = [];
    event.subscribe((n) => got.push(n));
    let promises = 0;
    const hook = createHook({
      init(_id, type) {
        if (type === 'PROMISE') promises++;
      },
    }).enable();
    try {
      event.execute(1);
    } finally {
      hook.disable();
    }
    assert.equal(promises, 0, 'promises made by one execute');
    const queued = new Promise<number>((resolve) => event.queuingSubscribe(async (n) => resolve(n)));
    event.execute(2);
    assert.equal(await queued, 2);
    assert.deepEqual(got, [1, 2]);
  });

  it('keeps DTLS handshake fragments within a bound, and still assembles a fragmented message', () => {
    type Fragment = { msg_type: number; length: number; fragment_offset: number; fragment_length: number };
    const socket = { bufferFragmentedHandshakes: [] as Fragment[] };
    const handle = (DtlsClient.prototype as unknown as { handleFragmentHandshake(m: Fragment[]): Fragment[] })
      .handleFragmentHandshake;
    const fragment = (offset: number, length = 1000): Fragment => ({
      msg_type: 11,
      length,
      fragment_offset: offset,
      fragment_length: 100,
    });
    // Fragments no last fragment completes (a peer's to send): werift kept every one.
    for (let i = 0; i < 10_000; i++) handle.call(socket, [fragment(0)]);
    assert.ok(
      socket.bufferFragmentedHandshakes.length <= 64,
      `${socket.bufferFragmentedHandshakes.length} kept`,
    );
    // A real fragmented message (three fragments, the last completing it) is handed on whole.
    socket.bufferFragmentedHandshakes = [];
    assert.deepEqual(handle.call(socket, [fragment(0, 300)]), []);
    assert.deepEqual(handle.call(socket, [fragment(100, 300)]), []);
    assert.equal(handle.call(socket, [fragment(200, 300)]).length, 3);
  });
});

describe('VP8 depacketizing', () => {
  const packetsOf = (payloads: Buffer[]) =>
    payloads.map((payload, i) => new RtpPacket(new RtpHeader({ sequenceNumber: i }), payload));

  it('gives the picture and keyframe flag werift gives, where werift reads the descriptor right', () => {
    const rand = prng(3);
    for (let n = 0; n < 2000; n++) {
      const pictureId = ([undefined, 7, 15] as const)[rand(3)];
      // werift skips the TID/KEYIDX byte when L or K is set (not for T alone): T only with L or K.
      const tl0 = rand(2) === 1;
      const keyIdx = rand(2) === 1;
      const tid = (tl0 || keyIdx) && rand(2) === 1;
      const payloads = Array.from({ length: 1 + rand(4) }, (_, i) =>
        vp8Payload(
          rand,
          { start: i === 0, pid: i === 0 ? 0 : rand(8), pictureId, tl0, tid, keyIdx },
          randomBytes(1 + rand(300)),
        ),
      );
      const theirs = dePacketizeRtpPackets('VP8', packetsOf(payloads));
      const ours = depacketizeVp8(payloads);
      assert.ok(ours.data.equals(theirs.data), `picture ${n}`);
      assert.equal(ours.keyframe, theirs.isKeyframe, `picture ${n}: keyframe`);
    }
  });

  it('skips the TID byte when T alone is set (werift kept it in the picture) and refuses a cut descriptor', () => {
    const rand = prng(4);
    const body = Buffer.from([0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a]); // a keyframe's tag (P = 0)
    const payload = vp8Payload(rand, { start: true, pid: 0, pictureId: 15, tid: true }, body);
    const ours = depacketizeVp8([payload]);
    assert.ok(ours.data.equals(body));
    assert.equal(ours.keyframe, true);
    assert.equal(dePacketizeRtpPackets('VP8', packetsOf([payload])).data.length, body.length + 1);
    assert.throws(() => depacketizeVp8([Buffer.from([0x90, 0x80])]), /descriptor longer/);
    assert.equal(depacketizeVp8([vp8Payload(rand, { start: true, pid: 1 }, body)]).keyframe, false, 'PID 1');
    assert.equal(depacketizeVp8([vp8Payload(rand, { start: false, pid: 0 }, body)]).keyframe, false, 'S = 0');
  });
});

describe('packet history (a sender’s retransmission ring)', () => {
  const packet = (sequenceNumber: number, size: number, padding = 0) => {
    const header = new RtpHeader({
      payloadType: 96,
      sequenceNumber,
      timestamp: sequenceNumber * 3000,
      ssrc: 7,
      marker: sequenceNumber % 2 === 0,
      extension: true,
      extensions: [{ id: 3, payload: Buffer.from([sequenceNumber & 0xff, 1, 2]) }],
      padding: padding > 0,
      paddingSize: padding,
    });
    return new RtpPacket(header, randomBytes(size));
  };

  it('gives back each of the last packets as sent, byte for byte, and none it wrote over', () => {
    const history = new PacketHistory(10_000);
    const sent = new Map<number, Buffer>();
    for (let i = 0; i < 300; i++) {
      const seq = (65_500 + i) % 65_536;
      const p = packet(seq, 50 + ((i * 37) % 400), i % 17 === 0 ? 4 : 0);
      history.put(p.header, p.payload);
      sent.set(seq, p.serialize());
    }
    let kept = 0;
    for (const [seq, bytes] of sent) {
      const back = history.get(seq);
      if (back === undefined) continue;
      kept++;
      assert.deepEqual(back.serialize(), bytes, `packet ${seq}`);
    }
    // 10,000 bytes hold the last ~30 packets of ~300 bytes; older ones are written over.
    assert.ok(kept >= 20 && kept <= 40, `${kept} kept`);
    assert.ok(history.get((65_500 + 299) % 65_536), 'the last one is kept');
    assert.equal(history.get(65_500), undefined, 'the first one is gone');
  });

  it('keeps nothing under a slot another sequence number took, nor a packet too large for it', () => {
    const history = new PacketHistory(8_000);
    const a = packet(5, 100);
    history.put(a.header, a.payload);
    const b = packet(5 + 128, 100); // same slot
    history.put(b.header, b.payload);
    assert.equal(history.get(5), undefined);
    assert.deepEqual(history.get(133)?.payload, b.payload);
    const big = packet(134, 1500); // more than an eighth of the ring
    history.put(big.header, big.payload);
    assert.equal(history.get(134), undefined);
  });
});

/** A werift video sender with the studio's packet path, the sequence numbers it puts on the wire caught. */
function senderOnTheWire(fields: Record<string, unknown> = {}) {
  installPacketPath();
  const sent: number[] = [];
  const sender = new RTCRtpSender('video') as unknown as {
    dispatchRtp(rtp: RtpPacket): Promise<void>;
    handleRtcpPacket(packet: RtcpPacket): void;
    retransmittedPacketsSent: number;
  } & Record<string, unknown>;
  Object.assign(sender, {
    ...fields,
    dtlsTransport: {
      state: 'connected',
      transportSequenceNumber: 0,
      sendRtp: async (_payload: Buffer, header: RtpHeader) => {
        sent.push(header.sequenceNumber);
        return 100;
      },
    },
    codec: new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90_000, payloadType: 96 }),
  });
  return { sender, sent };
}

describe('NACKs answered from the packet history', () => {
  it(`sends a packet again at most once per ${RESEND_MIN_MS} ms, however often it is asked for`, async () => {
    const { sender, sent } = senderOnTheWire();
    for (let seq = 0; seq < 4; seq++)
      await sender.dispatchRtp(
        new RtpPacket(
          new RtpHeader({ payloadType: 96, sequenceNumber: seq, timestamp: seq }),
          randomBytes(100),
        ),
      );
    const first = sent[0]!;
    const nack = () =>
      sender.handleRtcpPacket(
        new RtcpTransportLayerFeedback({
          feedback: new GenericNack({ senderSsrc: 1, mediaSourceSsrc: 2, lost: [first, first + 1] }),
        }),
      );
    sent.length = 0;
    // The clock stands still during the flood (a pause of the test's thread must not pass for time).
    const now = performance.now.bind(performance);
    let clock = now();
    performance.now = () => clock;
    try {
      for (let i = 0; i < 5; i++) nack(); // a flood: every few µs
      assert.deepEqual(sent, [first, first + 1], 'each packet sent again once');
      clock += RESEND_MIN_MS - 1;
      nack();
      assert.deepEqual(sent, [first, first + 1], 'not again within the time');
      clock += 1;
      nack();
    } finally {
      performance.now = now;
    }
    assert.deepEqual(sent, [first, first + 1, first, first + 1], 'and again once the time has passed');
    assert.equal(sender.retransmittedPacketsSent, 4);
  });

  it('answers a NACK whose bitmask runs past sequence number 65535 (as libwebrtc packs them)', async () => {
    const { sender, sent } = senderOnTheWire({ seqOffset: 0 });
    for (const seq of [65534, 65535, 0, 1])
      await sender.dispatchRtp(
        new RtpPacket(
          new RtpHeader({ payloadType: 96, sequenceNumber: seq, timestamp: seq }),
          randomBytes(100),
        ),
      );
    assert.deepEqual(sent, [65534, 65535, 0, 1]);
    sent.length = 0;
    // One FCI entry: PID 65535, and bit 0 of its bitmask (the packet after it: 0).
    const fci = Buffer.alloc(4);
    fci.writeUInt16BE(65535, 0);
    fci.writeUInt16BE(0x0001, 2);
    const bytes = new RtcpTransportLayerFeedback({
      feedback: new GenericNack({ senderSsrc: 1, mediaSourceSsrc: 2, lost: [] }),
    }).serialize();
    const wire = Buffer.concat([bytes, fci]);
    wire.writeUInt16BE(wire.length / 4 - 1, 2); // the RTCP length in words − 1
    const [parsed] = RtcpPacketConverter.deSerialize(wire);
    assert.deepEqual(((parsed as RtcpTransportLayerFeedback).feedback as GenericNack).lost, [65535, 65536]);
    sender.handleRtcpPacket(parsed!);
    assert.deepEqual(sent, [65535, 0], 'both packets sent again');
  });
});
