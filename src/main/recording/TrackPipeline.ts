import { dePacketizeRtpPackets, type RtpPacket } from 'werift';
import { closest } from '../util/wrapped';
import { depacketizeVp8, vp8StartsPicture } from './codecs';
import { countDrop, emptyTrackStats, type TrackStats } from './TrackStats';

export type { TrackStats } from './TrackStats';

/** A frame of one track, with its time on the recorder's clock (ms, wall-clock based). */
export interface TrackFrame {
  kind: 'audio' | 'video';
  timeMs: number;
  data: Buffer;
  keyframe: boolean;
}

/** A frame as received: its extended RTP timestamp and the arrival of its first packet. */
export interface ReceivedFrame {
  kind: 'audio' | 'video';
  rtpTimestamp: number;
  arrivalMs: number;
  data: Buffer;
  keyframe: boolean;
}

/** A video frame bigger than this is dropped whole (a 4K keyframe of a good encoder is ~1–2 MB). */
export const MAX_VIDEO_FRAME_BYTES = 8 * 1024 * 1024;
/** An audio frame bigger than this is dropped (an Opus packet is at most 1275 bytes per frame). */
export const MAX_AUDIO_FRAME_BYTES = 64 * 1024;

export interface TrackPipelineOptions {
  kind: 'audio' | 'video';
  /** werift depacketizer name: VP8, VP9, MPEG4/ISO/AVC, AV1, OPUS. */
  codec: 'VP8' | 'VP9' | 'MPEG4/ISO/AVC' | 'AV1' | 'OPUS';
  clockRate: number;
  /** How long to wait for a missing packet (NACK retransmission) before declaring it lost. */
  reorderMs?: number;
  /** A frame ready to be timed (StreamClock) and written. */
  onFrame: (frame: ReceivedFrame) => void;
  /** Media was lost and the picture is broken until the next keyframe. */
  onNeedKeyframe: () => void;
  /**
   * Largest frame kept, in bytes of RTP payload (default MAX_VIDEO_FRAME_BYTES or
   * MAX_AUDIO_FRAME_BYTES): a frame growing past it is discarded whole while it is assembled,
   * counted as `framesDropped.oversized`, and the recording goes on (at the next keyframe).
   */
  maxFrameBytes?: number;
  /** Clock for tests. */
  now?: () => number;
}

interface Buffered {
  packet: RtpPacket;
  arrival: number;
}

/**
 * One received track → frames: reorders RTP by sequence number (waiting briefly for
 * retransmissions), assembles video frames (a frame with a lost packet is dropped along with
 * everything up to the next keyframe) and depacketizes. Frames leave with their extended RTP
 * timestamp and arrival time: the stream's clock (StreamClock) times them.
 */
export class TrackPipeline {
  readonly stats: TrackStats = emptyTrackStats();
  readonly #options: Required<Omit<TrackPipelineOptions, 'now'>> & { now: () => number };
  readonly #buffer = new Map<number, Buffered>();
  /** Next extended sequence number expected. */
  #next: number | null = null;
  #lastTs: number | null = null;
  #frame: {
    ts: number;
    arrival: number;
    packets: RtpPacket[];
    broken: boolean;
    /** Payload bytes so far; past the bound the packets are let go and the frame is dropped. */
    bytes: number;
    oversized: boolean;
  } | null = null;
  #pendingVideo: { ts: number; arrival: number; data: Buffer; keyframe: boolean } | null = null;
  #waitingForKeyframe: boolean;
  /**
   * Video packets were given up on and no packet came since: the next one, if it is in the
   * middle of a new picture, means that picture lost its first packets (a keyframe's parameter
   * sets and the start of its IDR, say), so it is broken too. So is the first picture when the
   * track was joined in the middle of it: the packets before the first one seen count as lost (an
   * H.264 keyframe's tail still says IDR, and a decoder refuses it and what follows it).
   */
  #lostBefore = true;
  #closed = false;

  constructor(options: TrackPipelineOptions) {
    this.#options = {
      reorderMs: options.kind === 'video' ? 300 : 150,
      maxFrameBytes: options.kind === 'video' ? MAX_VIDEO_FRAME_BYTES : MAX_AUDIO_FRAME_BYTES,
      now: Date.now,
      ...options,
    } as Required<Omit<TrackPipelineOptions, 'now'>> & { now: () => number };
    this.#waitingForKeyframe = options.kind === 'video';
  }

  /** Extends a 16-bit sequence number to the value closest to the one expected next. */
  #extendSeq(seq: number): number {
    // Start well above zero so a packet from "before" the first one stays positive.
    const reference = this.#next ?? 65536 * 16 + seq;
    return closest(seq, reference, 65536);
  }

  /** Extends a 32-bit RTP timestamp to the value closest to the last one seen. */
  extendTimestamp(ts: number): number {
    const extended = this.#lastTs === null ? 0x100000000 * 16 + ts : closest(ts, this.#lastTs, 0x100000000);
    if (this.#lastTs === null || extended > this.#lastTs) this.#lastTs = extended;
    return extended;
  }

  /** Feeds one RTP packet as it arrived. */
  push(packet: RtpPacket): void {
    if (this.#closed) return;
    const now = this.#options.now();
    this.stats.packets++;
    const seq = this.#extendSeq(packet.header.sequenceNumber);
    if (this.#next === null) this.#next = seq;
    if (seq < this.#next || this.#buffer.has(seq)) return; // duplicate or too late
    if (seq === this.#next && this.#buffer.size === 0) {
      // In order with nothing waiting (nearly every packet): on at once, without the buffer.
      this.#next++;
      this.#process(packet, now);
      return;
    }
    this.#buffer.set(seq, { packet, arrival: now });
    this.#drain(now);
  }

  /** Gives up on missing packets that waited too long (call periodically). */
  tick(): void {
    if (this.#closed) return;
    this.#drain(this.#options.now());
    // A held frame whose picture has had time to complete goes out even if no frame follows.
    if (this.#pendingVideo !== null && this.#options.now() - this.#pendingVideo.arrival > 100) this.flush();
  }

  #drain(now: number): void {
    for (;;) {
      if (this.#next === null) return;
      const ready = this.#buffer.get(this.#next);
      if (ready !== undefined) {
        this.#buffer.delete(this.#next);
        this.#next++;
        this.#process(ready.packet, ready.arrival);
        continue;
      }
      if (this.#buffer.size === 0) return;
      // A gap: wait for a retransmission unless the oldest waiting packet is too old.
      let oldest = Infinity;
      let lowest = Infinity;
      for (const [seq, b] of this.#buffer) {
        oldest = Math.min(oldest, b.arrival);
        lowest = Math.min(lowest, seq);
      }
      if (now - oldest < this.#options.reorderMs && this.#buffer.size < 1000) return;
      this.stats.lostPackets += lowest - this.#next;
      this.#next = lowest;
      this.#loss();
    }
  }

  #loss(): void {
    if (this.#options.kind !== 'video') return;
    if (this.#frame !== null) this.#frame.broken = true;
    this.#lostBefore = true;
    this.#brokenPicture();
  }

  #brokenPicture(): void {
    if (!this.#waitingForKeyframe) this.#options.onNeedKeyframe();
    this.#waitingForKeyframe = true;
  }

  #process(packet: RtpPacket, arrival: number): void {
    const ts = this.extendTimestamp(packet.header.timestamp);
    if (this.#options.kind === 'audio') {
      if (packet.payload.length > this.#options.maxFrameBytes) {
        countDrop(this.stats, 'oversized');
        return;
      }
      this.#emit([packet], ts, arrival, false);
      return;
    }
    // The lost packets were the end of the picture in progress, or the start of this one.
    const afterLoss = this.#lostBefore;
    this.#lostBefore = false;
    if (this.#frame !== null && this.#frame.ts !== ts) {
      // The previous frame never saw its marker bit: incomplete.
      this.#frame.broken = true;
      this.#finishFrame();
    }
    this.#frame ??= {
      ts,
      arrival,
      packets: [],
      broken: afterLoss && !startsPicture(this.#options.codec, packet.payload),
      bytes: 0,
      oversized: false,
    };
    const frame = this.#frame;
    frame.bytes += packet.payload.length;
    if (frame.bytes > this.#options.maxFrameBytes) {
      // Memory is bounded by the frame limit, not by what a sender chooses to send.
      frame.oversized = true;
      frame.packets = [];
    } else if (!frame.oversized) {
      frame.packets.push(packet);
    }
    if (packet.header.marker) this.#finishFrame();
  }

  #finishFrame(): void {
    const frame = this.#frame;
    this.#frame = null;
    if (frame === null) return;
    if (frame.oversized) {
      countDrop(this.stats, 'oversized');
      this.#brokenPicture();
      return;
    }
    if (frame.broken) {
      countDrop(this.stats, 'broken');
      this.#brokenPicture();
      return;
    }
    this.#emit(frame.packets, frame.ts, frame.arrival, true);
  }

  #emit(packets: RtpPacket[], ts: number, arrival: number, video: boolean): void {
    let result;
    try {
      if (this.#options.codec === 'VP8') {
        const { data, keyframe } = depacketizeVp8(packets.map((p) => p.payload));
        result = { data, isKeyframe: keyframe };
      } else if (this.#options.codec === 'OPUS' && packets.length === 1) {
        // An Opus packet is its frame (RFC 7587): werift's depacketizer copies it through four
        // arrays and closures per packet. The copy keeps the packet's buffer from living as long
        // as the frame waits in the recorder.
        result = { data: Buffer.from(packets[0]!.payload), isKeyframe: true };
      } else result = dePacketizeRtpPackets(this.#options.codec, packets);
    } catch {
      countDrop(this.stats, 'broken');
      if (video) this.#brokenPicture();
      return;
    }
    if (result.data.length === 0) return;
    const keyframe = video ? result.isKeyframe : true;
    if (video && this.#waitingForKeyframe) {
      if (!keyframe) {
        countDrop(this.stats, 'broken');
        return;
      }
      this.#waitingForKeyframe = false;
    }
    if (!video) {
      this.stats.frames++;
      this.#options.onFrame({
        kind: this.#options.kind,
        rtpTimestamp: ts,
        arrivalMs: arrival,
        data: result.data,
        keyframe,
      });
      return;
    }
    // Pieces of one picture (same RTP timestamp) that came as separate marker-terminated runs,
    // as some H.264 encoders send parameter sets, are one frame: a container needs one block
    // per timestamp.
    const pending = this.#pendingVideo;
    if (pending !== null && pending.ts === ts) {
      if (pending.data.length + result.data.length > this.#options.maxFrameBytes) {
        this.#pendingVideo = null;
        countDrop(this.stats, 'oversized');
        this.#brokenPicture();
        return;
      }
      pending.data = Buffer.concat([pending.data, result.data]);
      pending.keyframe ||= keyframe;
      return;
    }
    this.flush();
    this.#pendingVideo = { ts, arrival, data: result.data, keyframe };
  }

  /** Emits a video frame held back to see whether more of its picture follows. */
  flush(): void {
    const pending = this.#pendingVideo;
    if (pending === null) return;
    this.#pendingVideo = null;
    this.stats.frames++;
    this.#options.onFrame({
      kind: 'video',
      rtpTimestamp: pending.ts,
      arrivalMs: pending.arrival,
      data: pending.data,
      keyframe: pending.keyframe,
    });
  }

  close(): void {
    this.flush();
    this.#closed = true;
    this.#buffer.clear();
    this.#frame = null;
  }
}

/** H.264 NAL unit types that begin an access unit: SEI, SPS, PPS, access unit delimiter. */
const H264_AU_START = new Set([6, 7, 8, 9]);

/** Whether a slice NAL unit (types 1 and 5) is its picture's first: first_mb_in_slice = 0, ue(v) "1". */
const firstSlice = (type: number, sliceHeader: number | undefined) =>
  (type !== 1 && type !== 5) || (sliceHeader !== undefined && (sliceHeader & 0x80) !== 0);

/**
 * Whether an RTP payload is the first packet of a picture (RFC 7741, the VP9 and AV1 RTP
 * payload formats, RFC 6184): VP8 S=1 with partition 0; VP9 B=1; AV1 not continuing an OBU
 * (Z=0); H.264 a parameter set, delimiter or SEI, or the first slice of a picture (alone, first
 * in a STAP-A, or an FU-A's start).
 */
export function startsPicture(codec: TrackPipelineOptions['codec'], payload: Buffer): boolean {
  if (payload.length === 0) return false;
  const b0 = payload[0]!;
  switch (codec) {
    case 'VP8':
      return vp8StartsPicture(payload);
    case 'VP9':
      return (b0 & 0x08) !== 0;
    case 'AV1':
      return (b0 & 0x80) === 0;
    case 'MPEG4/ISO/AVC': {
      const type = b0 & 0x1f;
      if (type === 24) {
        const first = payload[3];
        if (first === undefined) return false;
        const inner = first & 0x1f;
        return H264_AU_START.has(inner) || firstSlice(inner, payload[4]);
      }
      if (type === 28) {
        const fu = payload[1];
        if (fu === undefined || (fu & 0x80) === 0) return false;
        const inner = fu & 0x1f;
        return H264_AU_START.has(inner) || firstSlice(inner, payload[2]);
      }
      return H264_AU_START.has(type) || (type >= 1 && type <= 23 && firstSlice(type, payload[1]));
    }
    default:
      return true;
  }
}
