import { dePacketizeRtpPackets, type RtpPacket } from 'werift';

/** A frame of one track, with its time on the recorder's clock (ms, wall-clock based). */
export interface TrackFrame {
  kind: 'audio' | 'video';
  timeMs: number;
  data: Buffer;
  keyframe: boolean;
}

export interface TrackPipelineOptions {
  kind: 'audio' | 'video';
  /** werift depacketizer name: VP8, VP9, MPEG4/ISO/AVC, AV1, OPUS. */
  codec: 'VP8' | 'VP9' | 'MPEG4/ISO/AVC' | 'AV1' | 'OPUS';
  clockRate: number;
  /** How long to wait for a missing packet (NACK retransmission) before declaring it lost. */
  reorderMs?: number;
  /** A frame ready to write. */
  onFrame: (frame: TrackFrame) => void;
  /** Media was lost and the picture is broken until the next keyframe. */
  onNeedKeyframe: () => void;
  /** Clock for tests. */
  now?: () => number;
}

interface Buffered {
  packet: RtpPacket;
  arrival: number;
}

/** Statistics of a track pipeline (for the benchmark and the logs). */
export interface TrackStats {
  packets: number;
  lostPackets: number;
  frames: number;
  droppedFrames: number;
}

/**
 * One received track → frames: reorders RTP by sequence number (waiting briefly for
 * retransmissions), assembles video frames (a frame with a lost packet is dropped along with
 * everything up to the next keyframe), depacketizes, and times each frame from the first
 * packet's arrival plus the exact RTP timestamp delta. Gaps (mute, loss) stay gaps in time.
 */
export class TrackPipeline {
  readonly stats: TrackStats = { packets: 0, lostPackets: 0, frames: 0, droppedFrames: 0 };
  readonly #options: Required<Omit<TrackPipelineOptions, 'now'>> & { now: () => number };
  readonly #buffer = new Map<number, Buffered>();
  /** Next extended sequence number expected. */
  #next: number | null = null;
  #lastTs: number | null = null;
  /** Time origin: arrival (ms) of the first packet and its extended RTP timestamp. */
  #base: { wall: number; ts: number } | null = null;
  /** Extra offset applied to this track's times (lip-sync correction from sender reports). */
  offsetMs = 0;
  #frame: { ts: number; packets: RtpPacket[]; broken: boolean } | null = null;
  #pendingVideo: { ts: number; data: Buffer; keyframe: boolean } | null = null;
  #waitingForKeyframe: boolean;
  #closed = false;

  constructor(options: TrackPipelineOptions) {
    this.#options = {
      reorderMs: options.kind === 'video' ? 300 : 150,
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

  /** The recorder-clock time of an extended RTP timestamp. */
  timeOf(extendedTs: number): number {
    if (this.#base === null) return this.#options.now();
    return this.#base.wall + ((extendedTs - this.#base.ts) * 1000) / this.#options.clockRate + this.offsetMs;
  }

  /** Feeds one RTP packet as it arrived. */
  push(packet: RtpPacket): void {
    if (this.#closed) return;
    const now = this.#options.now();
    this.stats.packets++;
    const seq = this.#extendSeq(packet.header.sequenceNumber);
    if (this.#next === null) this.#next = seq;
    if (seq < this.#next || this.#buffer.has(seq)) return; // duplicate or too late
    this.#buffer.set(seq, { packet, arrival: now });
    this.#drain(now);
  }

  /** Gives up on missing packets that waited too long (call periodically). */
  tick(): void {
    if (this.#closed) return;
    this.#drain(this.#options.now());
    // A held frame whose picture has had time to complete goes out even if no frame follows.
    if (this.#pendingVideo !== null && this.#options.now() - this.timeOf(this.#pendingVideo.ts) > 100)
      this.flush();
  }

  #drain(now: number): void {
    for (;;) {
      if (this.#next === null) return;
      const ready = this.#buffer.get(this.#next);
      if (ready !== undefined) {
        this.#buffer.delete(this.#next);
        this.#next++;
        this.#process(ready);
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
    if (this.#options.kind === 'video' && this.#frame !== null) this.#frame.broken = true;
    if (this.#options.kind === 'video') this.#brokenPicture();
  }

  #brokenPicture(): void {
    if (!this.#waitingForKeyframe) this.#options.onNeedKeyframe();
    this.#waitingForKeyframe = true;
  }

  #process({ packet, arrival }: Buffered): void {
    const ts = this.extendTimestamp(packet.header.timestamp);
    if (this.#base === null) this.#base = { wall: arrival, ts };
    // A jump of the RTP clock far from the arrival time (a new encoder behind the same SSRC)
    // re-bases the track on the arrival time; ordinary gaps keep their length.
    const expected = this.timeOf(ts) - this.offsetMs;
    if (Math.abs(expected - arrival) > 5000) this.#base = { wall: arrival, ts };

    if (this.#options.kind === 'audio') {
      this.#emit([packet], ts, false);
      return;
    }
    if (this.#frame !== null && this.#frame.ts !== ts) {
      // The previous frame never saw its marker bit: incomplete.
      this.#frame.broken = true;
      this.#finishFrame();
    }
    this.#frame ??= { ts, packets: [], broken: false };
    this.#frame.packets.push(packet);
    if (packet.header.marker) this.#finishFrame();
  }

  #finishFrame(): void {
    const frame = this.#frame;
    this.#frame = null;
    if (frame === null) return;
    if (frame.broken) {
      this.stats.droppedFrames++;
      this.#brokenPicture();
      return;
    }
    this.#emit(frame.packets, frame.ts, true);
  }

  #emit(packets: RtpPacket[], ts: number, video: boolean): void {
    let result;
    try {
      result = dePacketizeRtpPackets(this.#options.codec, packets);
    } catch {
      this.stats.droppedFrames++;
      if (video) this.#brokenPicture();
      return;
    }
    if (result.data.length === 0) return;
    const keyframe = video ? result.isKeyframe : true;
    if (video && this.#waitingForKeyframe) {
      if (!keyframe) {
        this.stats.droppedFrames++;
        return;
      }
      this.#waitingForKeyframe = false;
    }
    if (!video) {
      this.stats.frames++;
      this.#options.onFrame({
        kind: this.#options.kind,
        timeMs: this.timeOf(ts),
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
      pending.data = Buffer.concat([pending.data, result.data]);
      pending.keyframe ||= keyframe;
      return;
    }
    this.flush();
    this.#pendingVideo = { ts, data: result.data, keyframe };
  }

  /** Emits a video frame held back to see whether more of its picture follows. */
  flush(): void {
    const pending = this.#pendingVideo;
    if (pending === null) return;
    this.#pendingVideo = null;
    this.stats.frames++;
    this.#options.onFrame({
      kind: 'video',
      timeMs: this.timeOf(pending.ts),
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

/** The number ≡ value (mod modulus) closest to reference. */
function closest(value: number, reference: number, modulus: number): number {
  const base = reference - (reference % modulus) + value;
  let best = base;
  for (const candidate of [base - modulus, base + modulus]) {
    if (Math.abs(candidate - reference) < Math.abs(best - reference)) best = candidate;
  }
  return best;
}
