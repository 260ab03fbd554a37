/**
 * The packets a sender keeps to answer NACKs, as bytes in one buffer per sender instead of
 * packet objects.
 *
 * werift's sender keeps its last 128 forwarded packets as `RtpPacket` objects (header, extension
 * list, payload view). Each lives for 128 packets — most of a second of 720p video — long enough
 * to survive two young-generation collections and be promoted, then dies in the old generation:
 * under `bench/sfu` 4×4 the media worker ran a full mark-compact every ~1.5 s, its incremental
 * marking steps up to 17 ms long on the event loop (`--trace-gc`), every packet behind them
 * waiting. Without those objects: one mark-compact in 30 s (docs/threads.md, "The retransmission
 * history"). Here each packet's bytes (header as werift writes it, payload, padding) are copied
 * into a ring; a NACK reads them back into a packet.
 */
import { performance } from 'node:perf_hooks';
import {
  GenericNack,
  RtcpTransportLayerFeedback,
  RtpPacket,
  uint16Add,
  wrapRtx,
  type RtcpPacket,
  type RtpHeader,
} from 'werift';

/** werift's `RTP_HISTORY_SIZE`: the packets a sender keeps for retransmission. */
export const RTP_HISTORY_SIZE = 128;

/**
 * A packet is sent again at most once in this long, however often it is NACKed: werift's own
 * receivers ask every 5 ms, and a hostile guest could ask for all 128 kept packets in every
 * RTCP packet it sends (each resend costs the worker an SRTP protect and a send).
 */
export const RESEND_MIN_MS = 10;

/** Bytes kept per sender: room for the last 128 packets of typical size (video ≤ 1,250 B, Opus ≤ 320 B). */
const CAPACITY = { video: RTP_HISTORY_SIZE * 1250, audio: RTP_HISTORY_SIZE * 320 };

export class PacketHistory {
  readonly #bytes: Buffer;
  /** Per slot (sequence number mod 128): the sequence number kept there, or −1. */
  readonly #seq = new Int32Array(RTP_HISTORY_SIZE).fill(-1);
  readonly #start = new Int32Array(RTP_HISTORY_SIZE);
  readonly #length = new Int32Array(RTP_HISTORY_SIZE);
  /** Per slot: where the packet began counting every byte ever written (and skipped at a wrap). */
  readonly #written = new Float64Array(RTP_HISTORY_SIZE);
  /** Per slot: when its packet was last sent again (`performance.now()`), or −∞. */
  readonly #resentAt = new Float64Array(RTP_HISTORY_SIZE).fill(-Infinity);
  #offset = 0;
  #total = 0;

  constructor(capacity: number) {
    // Its own memory (not a slice of Node's shared pool), outside the JavaScript heap.
    this.#bytes = Buffer.allocUnsafeSlow(capacity);
  }

  static for(kind: string): PacketHistory {
    return new PacketHistory(kind === 'audio' ? CAPACITY.audio : CAPACITY.video);
  }

  /** Keeps a sent packet's bytes under its sequence number (over what that slot held). */
  put(header: RtpHeader, payload: Buffer): void {
    const slot = header.sequenceNumber % RTP_HISTORY_SIZE;
    const headerSize = header.serializeSize;
    const padding = header.padding ? header.paddingSize : 0;
    const length = headerSize + payload.length + padding;
    const capacity = this.#bytes.length;
    // A packet larger than an eighth of the ring would push out too many others: not kept.
    if (length > capacity >> 3 || (header.padding && padding === 0)) {
      this.#seq[slot] = -1;
      return;
    }
    if (this.#offset + length > capacity) {
      this.#total += capacity - this.#offset;
      this.#offset = 0;
    }
    const at = this.#offset;
    header.serialize(headerSize).copy(this.#bytes, at);
    payload.copy(this.#bytes, at + headerSize);
    if (padding > 0) {
      this.#bytes.fill(0, at + headerSize + payload.length, at + length - 1);
      this.#bytes[at + length - 1] = padding;
    }
    this.#seq[slot] = header.sequenceNumber;
    this.#start[slot] = at;
    this.#length[slot] = length;
    this.#written[slot] = this.#total;
    this.#resentAt[slot] = -Infinity;
    this.#offset += length;
    this.#total += length;
  }

  /** The packet sent with this sequence number, while it is still kept. */
  get(sequenceNumber: number): RtpPacket | undefined {
    const slot = sequenceNumber % RTP_HISTORY_SIZE;
    if (this.#seq[slot] !== sequenceNumber) return undefined;
    // Written over since (the ring came round past its start)?
    if (this.#total - this.#written[slot]! > this.#bytes.length) return undefined;
    const start = this.#start[slot]!;
    // A copy: the ring's bytes are written over by later packets.
    return RtpPacket.deSerialize(Buffer.from(this.#bytes.subarray(start, start + this.#length[slot]!)));
  }

  /**
   * The packet to send again for a NACK: kept, and not sent again in the last `RESEND_MIN_MS`
   * (`now`: `performance.now()`). Marks it sent.
   */
  resend(sequenceNumber: number, now: number): RtpPacket | undefined {
    const slot = sequenceNumber % RTP_HISTORY_SIZE;
    if (this.#seq[slot] !== sequenceNumber || now - this.#resentAt[slot]! < RESEND_MIN_MS) return undefined;
    const packet = this.get(sequenceNumber);
    if (packet !== undefined) this.#resentAt[slot] = now;
    return packet;
  }
}

/** What of werift's `RTCRtpSender` the NACK answer uses. */
interface NackingSender {
  kind: string;
  packetHistory?: PacketHistory;
  rtpCache: RtpPacket[];
  rtxPayloadType?: number;
  rtxSequenceNumber: number;
  rtxSsrc: number;
  nackCount: number;
  retransmittedPacketsSent: number;
  retransmittedBytesSent: number;
  headerBytesSent: number;
  onGenericNack: { execute(feedback: GenericNack): void };
  onRtcp: { execute(packet: RtcpPacket): void };
  dtlsTransport: { sendRtp(payload: Buffer, header: RtpHeader): Promise<number> };
  handleRtcpPacket(packet: RtcpPacket): unknown;
}

/** Keeps a packet a sender sends (from the studio's `dispatchRtp`). */
export function keepSent(sender: Pick<NackingSender, 'kind' | 'packetHistory'>, packet: RtpPacket): void {
  (sender.packetHistory ??= PacketHistory.for(sender.kind)).put(packet.header, packet.payload);
}

/**
 * A sender answers a NACK from its packet history as werift does from its packet objects: each
 * lost packet still kept is sent again (wrapped in RTX when negotiated; at most once per
 * `RESEND_MIN_MS`), with werift's counters and `onGenericNack` event. A packet werift's own
 * `dispatchRtp` sent (bytes given, a source switch, RED) is in werift's cache and found there.
 */
export function installNackAnswer(proto: object): void {
  const sender = proto as NackingSender;
  const handleRtcpPacket = sender.handleRtcpPacket;
  sender.handleRtcpPacket = function (this: NackingSender, packet: RtcpPacket) {
    if (packet.type !== RtcpTransportLayerFeedback.type || packet.feedback.count !== GenericNack.count)
      return handleRtcpPacket.call(this, packet);
    const feedback = packet.feedback as GenericNack;
    this.nackCount++;
    const now = performance.now();
    for (const listed of feedback.lost) {
      // werift reads a bitmask past 65535 as 65536, 65537… (libwebrtc's NACKs span the wrap).
      const sequenceNumber = listed % 65536;
      let resend = this.packetHistory?.resend(sequenceNumber, now);
      if (resend === undefined) {
        const cached = this.rtpCache[sequenceNumber % RTP_HISTORY_SIZE];
        if (cached?.header.sequenceNumber === sequenceNumber) resend = cached;
      }
      if (resend === undefined) continue;
      if (this.rtxPayloadType !== undefined) {
        resend = wrapRtx(resend, this.rtxPayloadType, this.rtxSequenceNumber, this.rtxSsrc);
        this.rtxSequenceNumber = uint16Add(this.rtxSequenceNumber, 1);
      }
      this.retransmittedPacketsSent++;
      this.retransmittedBytesSent += resend.payload.length;
      this.headerBytesSent += resend.header.serializeSize;
      this.dtlsTransport.sendRtp(resend.payload, resend.header).catch(() => {});
    }
    this.onGenericNack.execute(feedback);
    this.onRtcp.execute(packet);
    return undefined;
  };
}
