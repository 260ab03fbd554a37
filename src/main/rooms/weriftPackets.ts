/**
 * A faster receive path through werift (0.25.2), the same results (docs/threads.md, "Per-packet
 * cost"). Profiled under `bench/record`, werift parsed every RTP header twice (SRTP, then the
 * packet) with a bit reader that formats each byte as a string of binary digits, and spent as
 * much again around each received packet's cipher as the cipher itself (`bench/packets`).
 *
 * - `RtpHeader.deSerialize`: the same fields from the same bytes with shifts and masks; what
 *   werift accepted, rejected or got wrong on malformed input is kept as it was, but for one
 *   thing: a one-byte header extension whose length runs past the packet no longer costs time
 *   in the square of that length (werift: seconds per forged packet).
 * - Unprotecting RTP with AES_CM_128_HMAC_SHA1_80 (RFC 3711 §4.1.1): the keystream is AES of
 *   the counter blocks, made by one AES-ECB cipher per session key and kept, instead of a new
 *   AES-CTR cipher (a key schedule) per packet; the counter without BigInt. Authentication is
 *   unchanged (HMAC-SHA1 over the header, the encrypted payload and the rollover counter; the
 *   80-bit tag compared in constant time), checked before decryption.
 * - Unprotecting RTP with AEAD_AES_128_GCM (RFC 7714): the same cipher calls (Node cannot
 *   re-key a GCM cipher), each cipher made from a kept KeyObject, the IV written directly and
 *   the packet assembled in one buffer.
 * - The NACKs a receiver sends: werift's `NackHandler` behind `nackRequests.ts` (a cost the
 *   sender could choose, retries within the recorder's window).
 *
 * - Sending a forwarded packet (`RTCRtpSender.dispatchRtp`): the same packet with the right NTP
 *   clock and without werift's per-packet time string and extension rebuilding (below).
 *
 * Protecting (forwarded packets) and RTCP keep werift's own code: replacing the protect side
 * measured no gain (`bench/packets`' `protectRatio` stayed at 0.84–1.2, run to run). Two costs
 * only a change of werift's files can reach are made after install (`scripts/patch-werift.mjs`).
 * `test/unit/werift-packets.test.ts` compares every path with werift's on random and malformed
 * packets.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  timingSafeEqual,
  type Cipheriv,
  type KeyObject,
} from 'node:crypto';
import { endianness } from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  ProtectionProfileAeadAes128Gcm,
  ProtectionProfileAes128CmHmacSha1_80,
  RTCRtpCodecParameters,
  RTCRtpReceiver,
  RTCRtpSender,
  RtpHeader,
  RTP_EXTENSION_URI,
  RtpPacket,
  serializeAbsSendTime,
  serializeRepairedRtpStreamId,
  serializeSdesMid,
  serializeSdesRTPStreamID,
  serializeTransportWideCC,
  SrtpAuthenticationError,
  SrtpSession,
  uint16Add,
  uint32Add,
} from 'werift';
import { installNackRequests } from './nackRequests';
import { installNackAnswer, keepSent, type PacketHistory } from './packetHistory';

const AUTH_TAG_LENGTH = 10;
const GCM_TAG_LENGTH = 16;
const MIN_RTP_HEADER_SIZE = 12;
const ONE_BYTE_PROFILE = 0xbede;
const TWO_BYTE_PROFILE = 0x1000;
const AUTH_FAILED = 'Failed to authenticate SRTP packet';

/** werift's `RtpHeader.deSerialize`, by shifts and masks. */
export function parseRtpHeader(rawPacket: Buffer): RtpHeader {
  const h = new RtpHeader();
  const first = rawPacket[0]!;
  h.version = first >> 6;
  h.padding = (first & 0x20) !== 0;
  h.extension = (first & 0x10) !== 0;
  h.csrcLength = first & 0x0f;
  const second = rawPacket[1]!;
  h.marker = (second & 0x80) !== 0;
  h.payloadType = second & 0x7f;
  h.sequenceNumber = rawPacket.readUInt16BE(2);
  h.timestamp = rawPacket.readUInt32BE(4);
  h.ssrc = rawPacket.readUInt32BE(8);
  if (h.csrcLength > 0) {
    const csrc: number[] = [];
    for (let i = 0; i < h.csrcLength; i++) csrc.push(rawPacket.readUInt32BE(MIN_RTP_HEADER_SIZE + i * 4));
    h.csrc = csrc;
  }
  let offset = MIN_RTP_HEADER_SIZE + h.csrcLength * 4;
  if (h.extension) {
    h.extensionProfile = rawPacket.readUInt16BE(offset) as RtpHeader['extensionProfile'];
    offset += 2;
    const extensionLength = rawPacket.readUInt16BE(offset) * 4;
    h.extensionLength = extensionLength;
    offset += 2;
    const end = offset + extensionLength;
    const extensions: RtpHeader['extensions'] = [];
    switch (h.extensionProfile) {
      case ONE_BYTE_PROFILE:
        // As werift (id 15 stops the list there), but for a length past the packet's end.
        while (offset < end) {
          if (offset >= rawPacket.length) {
            // werift read each missing byte as an empty extension of id 0, two bytes at a time,
            // copying its list at each (a forged length cost seconds per packet, before SRTP
            // authentication): the same end, without them.
            offset += 2 * Math.ceil((end - offset) / 2);
            break;
          }
          const byte = rawPacket[offset]!;
          if (byte === 0x00) {
            offset++;
            continue;
          }
          const id = byte >> 4;
          const length = (byte & 0x0f) + 1;
          offset++;
          if (id === 0xf) break;
          extensions.push({ id, payload: rawPacket.subarray(offset, offset + length) });
          offset += length;
        }
        break;
      case TWO_BYTE_PROFILE:
        while (offset < end) {
          if (rawPacket[offset] === 0x00) {
            offset++;
            continue;
          }
          const id = rawPacket[offset]!;
          offset++;
          const length = rawPacket[offset]!;
          offset++;
          extensions.push({ id, payload: rawPacket.subarray(offset, offset + length) });
          offset += length;
        }
        break;
      default: {
        const payload = rawPacket.subarray(offset, offset + extensionLength);
        extensions.push({ id: 0, payload });
        offset += payload.length;
      }
    }
    h.extensions = extensions;
  }
  h.payloadOffset = offset;
  if (h.padding) h.paddingSize = rawPacket[rawPacket.length - 1]!;
  return h;
}

function authenticated(condition: boolean): void {
  if (!condition) throw new SrtpAuthenticationError(AUTH_FAILED);
}

/** werift's `parseSrtpRtpHeader`: the header of a protected packet, or an authentication error. */
function parseSrtpHeader(packet: Buffer, tagLength: number): RtpHeader {
  const authTagOffset = packet.length - tagLength;
  authenticated(packet.length >= MIN_RTP_HEADER_SIZE + tagLength);
  let header: RtpHeader;
  try {
    header = RtpHeader.deSerialize(packet.subarray(0, authTagOffset));
  } catch {
    throw new SrtpAuthenticationError(AUTH_FAILED);
  }
  header.paddingSize = 0;
  authenticated(header.payloadOffset >= MIN_RTP_HEADER_SIZE && header.payloadOffset <= authTagOffset);
  return header;
}

/** werift's `finalizeSrtpRtpHeader`: the padding of the decrypted packet. */
function finalizeHeader(header: RtpHeader, packet: Buffer): RtpHeader {
  if (!header.padding) {
    header.paddingSize = 0;
    return header;
  }
  authenticated(packet.length > header.payloadOffset);
  const paddingSize = packet[packet.length - 1]!;
  authenticated(paddingSize > 0 && paddingSize <= packet.length - header.payloadOffset);
  header.paddingSize = paddingSize;
  return header;
}

/** What werift's AES-CTR cipher object holds (`CipherAesCtr`, not exported). */
interface CtrCipher {
  srtpSessionKey: Buffer;
  srtpSessionSalt: Buffer;
  srtpSessionAuthTag: Buffer;
  decryptRtp(cipherText: Buffer, rolloverCounter: number, header?: RtpHeader): [Buffer, RtpHeader];
}

/** Per session key: its AES-ECB cipher and the session salt as four big-endian words. */
const keystreams = new WeakMap<Buffer, { ecb: Cipheriv; salt: [number, number, number, number] }>();
/** Counter blocks, grown to the largest payload seen. */
let counterWords = new Uint32Array(4 * 128);
let counterBytes = Buffer.from(counterWords.buffer);
const rocBytes = Buffer.alloc(4);

/** Host byte order is little-endian (x64, arm64): a big-endian word as stored by a Uint32Array. */
const swap32 = (v: number): number =>
  (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;

/**
 * XORs `input` with the AES-CTR keystream of the packet into `out` at `outOffset` (RFC 3711
 * §4.1.1: IV = (salt·2^16) XOR (SSRC·2^64) XOR (index·2^16), the counter blocks IV, IV+1…).
 */
function ctrXor(
  cipher: CtrCipher,
  ssrc: number,
  rolloverCounter: number,
  sequenceNumber: number,
  input: Buffer,
  out: Buffer,
  outOffset: number,
): void {
  const length = input.length;
  if (length === 0) return;
  let keystream = keystreams.get(cipher.srtpSessionKey);
  if (keystream === undefined) {
    const ecb = createCipheriv('aes-128-ecb', cipher.srtpSessionKey, null);
    ecb.setAutoPadding(false);
    // The salt is 14 bytes: the last two bytes of the IV are the block counter's.
    const salt = cipher.srtpSessionSalt;
    const word = (i: number) =>
      (((salt[i] ?? 0) << 24) |
        ((salt[i + 1] ?? 0) << 16) |
        ((salt[i + 2] ?? 0) << 8) |
        (salt[i + 3] ?? 0)) >>>
      0;
    keystream = { ecb, salt: [word(0), word(4), word(8), word(12)] };
    keystreams.set(cipher.srtpSessionKey, keystream);
  }
  const [s0, s1, s2, s3] = keystream.salt;
  let w0 = s0;
  let w1 = (s1 ^ ssrc) >>> 0;
  let w2 = (s2 ^ rolloverCounter) >>> 0;
  let w3 = (s3 ^ ((sequenceNumber << 16) >>> 0)) >>> 0;
  const blocks = (length + 15) >> 4;
  if (counterWords.length < blocks * 4) {
    counterWords = new Uint32Array(blocks * 4);
    counterBytes = Buffer.from(counterWords.buffer);
  }
  for (let b = 0, j = 0; b < blocks; b++, j += 4) {
    counterWords[j] = swap32(w0);
    counterWords[j + 1] = swap32(w1);
    counterWords[j + 2] = swap32(w2);
    counterWords[j + 3] = swap32(w3);
    // The 128-bit counter + 1.
    w3 = (w3 + 1) >>> 0;
    if (w3 === 0) {
      w2 = (w2 + 1) >>> 0;
      if (w2 === 0) {
        w1 = (w1 + 1) >>> 0;
        if (w1 === 0) w0 = (w0 + 1) >>> 0;
      }
    }
  }
  const stream = keystream.ecb.update(counterBytes.subarray(0, blocks * 16));
  const words = length >> 2;
  const to = out.byteOffset + outOffset;
  if ((input.byteOffset & 3) === 0 && (to & 3) === 0 && (stream.byteOffset & 3) === 0) {
    const a = new Uint32Array(input.buffer, input.byteOffset, words);
    const k = new Uint32Array(stream.buffer, stream.byteOffset, words);
    const o = new Uint32Array(out.buffer, to, words);
    for (let i = 0; i < words; i++) o[i] = a[i]! ^ k[i]!;
    for (let i = words << 2; i < length; i++) out[outOffset + i] = input[i]! ^ stream[i]!;
  } else {
    for (let i = 0; i < length; i++) out[outOffset + i] = input[i]! ^ stream[i]!;
  }
}

/** The 80-bit tag of RFC 3711 §4.2: HMAC-SHA1 over the packet and the rollover counter. */
function authTag(cipher: CtrCipher, authenticatedPortion: Buffer, rolloverCounter: number): Buffer {
  rocBytes.writeUInt32BE(rolloverCounter >>> 0);
  return createHmac('sha1', cipher.srtpSessionAuthTag)
    .update(authenticatedPortion)
    .update(rocBytes)
    .digest()
    .subarray(0, AUTH_TAG_LENGTH);
}

function decryptRtp(
  this: CtrCipher,
  cipherText: Buffer,
  rolloverCounter: number,
  header: RtpHeader = parseSrtpHeader(cipherText, AUTH_TAG_LENGTH),
): [Buffer, RtpHeader] {
  const authTagOffset = cipherText.length - AUTH_TAG_LENGTH;
  const expected = authTag(this, cipherText.subarray(0, authTagOffset), rolloverCounter);
  const actual = cipherText.subarray(authTagOffset);
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected))
    throw new SrtpAuthenticationError(AUTH_FAILED);
  const dst = Buffer.allocUnsafe(authTagOffset);
  cipherText.copy(dst, 0, 0, header.payloadOffset);
  ctrXor(
    this,
    header.ssrc,
    rolloverCounter,
    header.sequenceNumber,
    cipherText.subarray(header.payloadOffset, authTagOffset),
    dst,
    header.payloadOffset,
  );
  return [dst, finalizeHeader(header, dst)];
}

/** What werift's AES-GCM cipher object holds (`CipherAesGcm`, not exported). */
interface GcmCipher {
  srtpSessionKey: Buffer;
  srtpSessionSalt: Buffer;
  decryptRtp(cipherText: Buffer, rolloverCounter: number, header?: RtpHeader): [Buffer, RtpHeader];
}

/** The GCM IV, rewritten for each packet (a cipher copies its IV when it is made). */
const gcmIvBytes = Buffer.alloc(12);

/** RFC 7714 §8.1: IV = (00 00 || SSRC || ROC || SEQ) XOR the 12-byte salt. */
function gcmIv(cipher: GcmCipher, header: RtpHeader, rolloverCounter: number): Buffer {
  const iv = gcmIvBytes;
  iv.writeUInt16BE(0, 0);
  iv.writeUInt32BE(header.ssrc >>> 0, 2);
  iv.writeUInt32BE(rolloverCounter >>> 0, 6);
  iv.writeUInt16BE(header.sequenceNumber & 0xffff, 10);
  const salt = cipher.srtpSessionSalt;
  for (let i = 0; i < 12; i++) iv[i]! ^= salt[i] ?? 0;
  return iv;
}

/**
 * Each GCM cipher's session key as a KeyObject: a cipher made from one skips importing the raw
 * key for every packet (~1/3 of making the cipher, measured). Kept while the cipher's key is the same buffer.
 */
const gcmKeys = new WeakMap<GcmCipher, { raw: Buffer; key: KeyObject }>();

function gcmKey(cipher: GcmCipher): KeyObject {
  const kept = gcmKeys.get(cipher);
  if (kept !== undefined && kept.raw === cipher.srtpSessionKey) return kept.key;
  const key = createSecretKey(cipher.srtpSessionKey);
  gcmKeys.set(cipher, { raw: cipher.srtpSessionKey, key });
  return key;
}

function gcmDecryptRtp(
  this: GcmCipher,
  cipherText: Buffer,
  rolloverCounter: number,
  header: RtpHeader = parseSrtpHeader(cipherText, GCM_TAG_LENGTH),
): [Buffer, RtpHeader] {
  const authTagOffset = cipherText.length - GCM_TAG_LENGTH;
  const decipher = createDecipheriv('aes-128-gcm', gcmKey(this), gcmIv(this, header, rolloverCounter));
  decipher.setAAD(cipherText.subarray(0, header.payloadOffset));
  decipher.setAuthTag(cipherText.subarray(authTagOffset));
  const plain = decipher.update(cipherText.subarray(header.payloadOffset, authTagOffset));
  try {
    decipher.final();
  } catch {
    throw new SrtpAuthenticationError(AUTH_FAILED);
  }
  const dst = Buffer.allocUnsafe(authTagOffset);
  cipherText.copy(dst, 0, 0, header.payloadOffset);
  plain.copy(dst, header.payloadOffset);
  return [dst, finalizeHeader(header, dst)];
}

/** werift's own functions, as they were before `installPacketPath` (the tests compare with them). */
export const weriftOriginals = {
  parseRtpHeader: RtpHeader.deSerialize.bind(RtpHeader),
  clone: RtpPacket.prototype.clone,
};

/** The prototype of werift's cipher of a profile (`CipherAesCtr`, `CipherAesGcm`: not exported), found through a session. */
export function cipherPrototype(profile: 'ctr'): CtrCipher;
export function cipherPrototype(profile: 'gcm'): GcmCipher;
export function cipherPrototype(profile: 'ctr' | 'gcm'): CtrCipher | GcmCipher {
  const key = Buffer.alloc(16);
  const salt = Buffer.alloc(profile === 'gcm' ? 12 : 14);
  const session = new SrtpSession({
    keys: { localMasterKey: key, localMasterSalt: salt, remoteMasterKey: key, remoteMasterSalt: salt },
    profile: profile === 'gcm' ? ProtectionProfileAeadAes128Gcm : ProtectionProfileAes128CmHmacSha1_80,
  });
  const cipher = (session as unknown as { localContext: { cipher: object } }).localContext.cipher;
  return Object.getPrototypeOf(cipher) as CtrCipher | GcmCipher;
}

/** What a receiver's feedback getters read (werift: the first codec by payload type). */
type Feedback = RTCRtpCodecParameters['rtcpFeedback'][number] | undefined;
interface ReceiverFeedback {
  nack: Feedback;
  twcc: Feedback;
  pli: Feedback;
}

/**
 * werift's receiver asks, for every packet, whether NACK and transport-cc are on: each answer
 * sorts `Object.values` of its codecs (a fifth of the media worker's allocations under
 * `bench/record`, measured). The answers change only with the codecs, which only
 * `prepareReceive` (also behind `resyncCodecs`) writes: they are kept per receiver until then.
 */
function installReceiverFeedback(): void {
  const proto = RTCRtpReceiver.prototype as RTCRtpReceiver & { prepareReceive(params: unknown): void };
  const describe = (name: 'nackEnabled' | 'twccEnabled' | 'pliEnabled') => {
    const getter = Object.getOwnPropertyDescriptor(RTCRtpReceiver.prototype, name)?.get;
    if (getter === undefined) throw new Error(`werift's RTCRtpReceiver has no ${name} getter`);
    return getter;
  };
  const original = {
    nack: describe('nackEnabled'),
    twcc: describe('twccEnabled'),
    pli: describe('pliEnabled'),
  };
  const kept = new WeakMap<object, ReceiverFeedback>();
  const feedbackOf = (receiver: object): ReceiverFeedback => {
    let feedback = kept.get(receiver);
    if (feedback === undefined) {
      feedback = {
        nack: original.nack.call(receiver) as Feedback,
        twcc: original.twcc.call(receiver) as Feedback,
        pli: original.pli.call(receiver) as Feedback,
      };
      kept.set(receiver, feedback);
    }
    return feedback;
  };
  const prepareReceive = proto.prepareReceive;
  proto.prepareReceive = function (this: RTCRtpReceiver, params: unknown) {
    prepareReceive.call(this, params);
    kept.delete(this);
  };
  for (const [name, key] of [
    ['nackEnabled', 'nack'],
    ['twccEnabled', 'twcc'],
    ['pliEnabled', 'pli'],
  ] as const)
    Object.defineProperty(proto, name, {
      configurable: true,
      get(this: RTCRtpReceiver) {
        return feedbackOf(this)[key];
      },
    });
}

/**
 * A codec's `name` is read twice per received packet (is it RTX? RED?), each time splitting
 * its MIME type. Kept per codec object and MIME type (a changed `mimeType` is read again).
 */
function installCodecName(): void {
  const getter = Object.getOwnPropertyDescriptor(RTCRtpCodecParameters.prototype, 'name')?.get;
  if (getter === undefined) throw new Error("werift's RTCRtpCodecParameters has no name getter");
  const kept = new WeakMap<object, { mimeType: string; name: string }>();
  Object.defineProperty(RTCRtpCodecParameters.prototype, 'name', {
    configurable: true,
    get(this: RTCRtpCodecParameters) {
      const last = kept.get(this);
      if (last !== undefined && last.mimeType === this.mimeType) return last.name;
      const name = getter.call(this) as string;
      kept.set(this, { mimeType: this.mimeType, name });
      return name;
    },
  });
}

/**
 * Receivers and senders call their `async runRtcp()` with every packet; it returns at once
 * when its report loop runs already, but each call still makes a promise. The call is made
 * only when the loop would start.
 */
function installRtcpLoopGuard(): void {
  for (const proto of [RTCRtpReceiver.prototype, RTCRtpSender.prototype] as Array<{
    runRtcp(): Promise<void>;
    rtcpRunning?: boolean;
    stopped?: boolean;
  }>) {
    const runRtcp = proto.runRtcp;
    const idle = Promise.resolve();
    proto.runRtcp = function (this: typeof proto) {
      if (this.rtcpRunning === true || this.stopped === true) return idle;
      return runRtcp.call(this);
    };
  }
}

/**
 * werift's `RtpPacket.clone` (each received packet is cloned for its track's listeners): the
 * same header fields, shared values as the spread shares them, without an object spread and
 * `Object.assign` per packet (a tenth of the media worker's allocations).
 */
export function cloneRtpPacket(this: RtpPacket): RtpPacket {
  const h = this.header;
  const c = new RtpHeader();
  c.version = h.version;
  c.padding = h.padding;
  c.paddingSize = h.paddingSize;
  c.extension = h.extension;
  c.marker = h.marker;
  c.payloadOffset = h.payloadOffset;
  c.payloadType = h.payloadType;
  c.sequenceNumber = h.sequenceNumber;
  c.timestamp = h.timestamp;
  c.ssrc = h.ssrc;
  c.csrcLength = h.csrcLength;
  c.csrc = h.csrc;
  c.extensionProfile = h.extensionProfile;
  c.extensionLength = h.extensionLength;
  c.extensions = h.extensions;
  return new RtpPacket(c, this.payload);
}

/** Milliseconds from the NTP epoch (1900) to the Unix epoch (1970). */
const NTP_EPOCH_OFFSET_MS = 2_208_988_800_000;

/** An NTP timestamp (RFC 3550 §4): whole seconds since 1900 in the high word, the fraction in the low. */
export function ntpTimestamp(unixMs: number): bigint {
  const ms = unixMs + NTP_EPOCH_OFFSET_MS;
  const seconds = Math.floor(ms / 1000);
  const fraction = Math.floor(((ms - seconds * 1000) / 1000) * 2 ** 32);
  return (BigInt(seconds) << 32n) | BigInt(fraction);
}

/** An RTP header extension as werift holds it. */
type Extension = RtpHeader['extensions'][number];

/** What `dispatchRtp` uses of werift's `RTCRtpSender` (fields its type does not show). */
interface SenderInternals {
  stopped: boolean;
  pendingRtpEnabled: boolean;
  canSendRtp(): boolean;
  sendRtp(rtp: RtpPacket | Buffer): Promise<void>;
  dispatchRtp(rtp: RtpPacket | Buffer): Promise<void>;
  codec?: { payloadType: number };
  rtpContinuityPending: boolean;
  redRedundantPayloadType?: number;
  ssrc: number;
  timestampOffset: number;
  seqOffset: number;
  timestamp?: number;
  sequenceNumber?: number;
  headerExtensions: Array<{ id: number; uri: string }>;
  mid?: string;
  rtpStreamId?: string;
  repairedRtpStreamId?: string;
  dtlsTransport: {
    transportSequenceNumber: number;
    sendRtp(payload: Buffer, header: RtpHeader): Promise<number>;
  };
  ntpTimestamp: bigint;
  rtpTimestamp: number;
  octetCount: number;
  headerBytesSent: number;
  packetCount: number;
  kind: string;
  packetHistory?: PacketHistory;
  runRtcp(): Promise<void>;
  senderBWE: { sentInfos: Record<number, SentInfo> };
}

interface SentInfo {
  wideSeq: number;
  size: number;
  sendingAtMs: number;
  sentAtMs: number;
}

const byId = (a: Extension, b: Extension) => a.id - b.id;

/** The header extensions a sender writes itself, in the order it negotiated them. */
function senderExtensions(sender: SenderInternals, ntp: bigint): Extension[] {
  const extensions: Extension[] = [];
  for (const { id, uri } of sender.headerExtensions) {
    let payload: Buffer | undefined;
    switch (uri) {
      case RTP_EXTENSION_URI.sdesMid:
        if (sender.mid) payload = serializeSdesMid(sender.mid);
        break;
      case RTP_EXTENSION_URI.sdesRTPStreamID:
        if (sender.rtpStreamId) payload = serializeSdesRTPStreamID(sender.rtpStreamId);
        break;
      case RTP_EXTENSION_URI.repairedRtpStreamId:
        if (sender.repairedRtpStreamId) payload = serializeRepairedRtpStreamId(sender.repairedRtpStreamId);
        break;
      case RTP_EXTENSION_URI.transportWideCC: {
        const transport = sender.dtlsTransport;
        transport.transportSequenceNumber = uint16Add(transport.transportSequenceNumber, 1);
        payload = serializeTransportWideCC(transport.transportSequenceNumber);
        break;
      }
      case RTP_EXTENSION_URI.absSendTime:
        payload = serializeAbsSendTime(ntp);
        break;
    }
    if (payload !== undefined) extensions.push({ id, payload });
  }
  return extensions;
}

/**
 * Each forwarded packet goes through `RTCRtpSender.dispatchRtp`. werift's (0.25.2) builds the
 * NTP time from the decimal digits of the second (`ntpTime()`: the fraction is those digits read
 * as an integer, so x.8648 s becomes x + 0.0002 s) and puts it in its sender reports, paired with
 * the RTP timestamp of the packet sent then — a subscriber's RTP→NTP mapping was off by up to a
 * second, differently for audio and video (its lip sync) — and in the abs-send-time extension.
 * Per packet it also formats that time as a string, rebuilds the extension list through closures
 * and spreads, and has its bandwidth estimator sort the names of a four-field object (to delete
 * nothing). This one sends the same packet with the right clock: the same header (werift's
 * extension order: the sender's own, a publisher's extension of the same id overwriting the
 * payload, the rest after, sorted by id), the same counters and estimator entry; the packet is
 * kept for NACKs as bytes (`packetHistory.ts`), not as werift's cached object. A packet given as bytes, a source switch (continuity offsets) and RED go through
 * werift's own, its NTP time then set right after (before its first `await`).
 */
async function dispatchRtp(this: SenderInternals, rtp: RtpPacket | Buffer): Promise<void> {
  if (Buffer.isBuffer(rtp) || this.rtpContinuityPending || this.redRedundantPayloadType) {
    const nowMs = performance.timeOrigin + performance.now();
    const count = this.packetCount;
    const sending = weriftDispatchRtp.call(this, rtp);
    if (this.packetCount !== count) this.ntpTimestamp = ntpTimestamp(nowMs);
    return sending;
  }
  if (!this.canSendRtp()) return;
  const codec = this.codec;
  if (!codec) return;
  const packet = rtp.clone();
  const { header, payload } = packet;
  header.ssrc = this.ssrc;
  header.payloadType = codec.payloadType;
  header.timestamp = uint32Add(header.timestamp, this.timestampOffset);
  header.sequenceNumber = uint16Add(header.sequenceNumber, this.seqOffset);
  this.timestamp = header.timestamp;
  this.sequenceNumber = header.sequenceNumber;
  const ntp = ntpTimestamp(performance.timeOrigin + performance.now());
  const original = header.extensions;
  let extensions: Extension[];
  if (this.headerExtensions.length === 0) {
    extensions = original.slice();
  } else {
    extensions = senderExtensions(this, ntp);
    for (const ext of original) {
      const same = extensions.find((e) => e.id === ext.id);
      if (same !== undefined) same.payload = ext.payload;
      else extensions.push(ext);
    }
  }
  if (extensions.length > 1) extensions.sort(byId);
  header.extensions = extensions;
  this.ntpTimestamp = ntp;
  this.rtpTimestamp = header.timestamp;
  this.octetCount += payload.length;
  this.headerBytesSent += header.serializeSize;
  this.packetCount = uint32Add(this.packetCount, 1);
  keepSent(this, packet);
  const size = await this.dtlsTransport.sendRtp(payload, header);
  void this.runRtcp();
  const ms = Date.now();
  const wideSeq = this.dtlsTransport.transportSequenceNumber;
  this.senderBWE.sentInfos[wideSeq] = { wideSeq, size, sendingAtMs: ms, sentAtMs: ms };
}

const weriftDispatchRtp = (RTCRtpSender.prototype as unknown as SenderInternals).dispatchRtp;
const weriftSendRtp = (RTCRtpSender.prototype as unknown as SenderInternals).sendRtp;
const sent = Promise.resolve();

/**
 * werift's `sendRtp` (called for each packet of the track a sender forwards): without pending
 * RTP (the studio never enables it) the packet is dispatched at once, without the extra async
 * frame around it.
 */
function sendRtp(this: SenderInternals, rtp: RtpPacket | Buffer): Promise<void> {
  if (this.stopped || this.pendingRtpEnabled) return weriftSendRtp.call(this, rtp);
  if (!this.canSendRtp()) return sent;
  return this.dispatchRtp(rtp);
}

function installSender(): void {
  const proto = RTCRtpSender.prototype as unknown as SenderInternals;
  proto.dispatchRtp = dispatchRtp;
  proto.sendRtp = sendRtp;
  installNackAnswer(proto);
}

/** werift's own sender methods, for tests that compare. */
export const weriftSender = {
  dispatchRtp: weriftDispatchRtp,
  sendRtp: weriftSendRtp,
  handleRtcpPacket: (RTCRtpSender.prototype as unknown as { handleRtcpPacket(packet: unknown): void })
    .handleRtcpPacket,
};

let installed = false;

/** Puts the faster paths in place for every werift peer of this thread from now on. Idempotent. */
export function installPacketPath(): void {
  if (installed) return;
  installed = true;
  installReceiverFeedback();
  installCodecName();
  installRtcpLoopGuard();
  installNackRequests();
  RtpPacket.prototype.clone = cloneRtpPacket;
  installSender();
  // The keystream's counter words are written in the host's byte order.
  if (endianness() !== 'LE') return;
  RtpHeader.deSerialize = parseRtpHeader;
  const ctr = cipherPrototype('ctr');
  ctr.decryptRtp = decryptRtp;
  const gcm = cipherPrototype('gcm');
  gcm.decryptRtp = gcmDecryptRtp;
}
