import { Vp9RtpPayload, type RtpPacket } from 'werift';
import type { HealthWarning, StreamHealthInfo } from '../../shared/events/health';
import { h264SpsDimensions, vp8DescriptorLength, vp8Dimensions, vp9Dimensions } from '../recording/codecs';
import { startsPicture } from '../recording/TrackPipeline';
import type { MediaKind, Stream, StreamTrack } from './Stream';

/** Loss above this share of packets warns. */
export const LOSS_WARNING_PERCENT = 2;
/** How many one-second samples loss and frame rate are computed over (smooths a lone burst). */
const SMOOTHING_WINDOW = 2;
/** How many samples the reference frame rate (the recent best) looks back. */
const FRAME_RATE_WINDOW = 10;

/** Packet counters of one track between two samples. */
class TrackCounter {
  bytes = 0;
  received = 0;
  frames = 0;
  /** Extended highest sequence number seen (wraps counted); null before the first packet. */
  highest: number | null = null;
  /** `highest` at the previous sample. */
  highestAtSample: number | null = null;
  width: number | null = null;
  height: number | null = null;
  #frameStart = false;
  unsubscribe: () => void = () => {};

  onPacket(rtp: RtpPacket, kind: MediaKind, codec: string): void {
    this.bytes += rtp.payload.length + 12;
    this.received += 1;
    const seq = rtp.header.sequenceNumber;
    if (this.highest === null) {
      // Count the packets before this one as expected in this interval too.
      this.highest = seq;
      this.highestAtSample = seq - 1;
    } else {
      const last = this.highest & 0xffff;
      const delta = (seq - last + 0x10000) % 0x10000;
      // Ahead by less than half the space: newer (possibly after a wrap); otherwise a late one.
      if (delta > 0 && delta < 0x8000) this.highest += delta;
    }
    if (kind === 'video') {
      // A keyframe's size is in its first packet: the one after the previous frame's marker.
      if (this.width === null || this.#frameStart) this.#readSize(rtp.payload, codec);
      this.#frameStart = rtp.header.marker;
      if (rtp.header.marker) this.frames += 1;
    }
  }

  /** Sizes come from keyframes; checking the first packet of each frame is enough to find them. */
  #readSize(payload: Buffer, codec: string): void {
    try {
      let size: { width: number; height: number } | null = null;
      if (codec === 'VP8') {
        // Only a picture's first packet can hold the keyframe header; read without werift's
        // bit-by-bit payload parser, which cost more than the rest of this path (profile, #15).
        if (startsPicture('VP8', payload))
          size = vp8Dimensions(payload.subarray(vp8DescriptorLength(payload)));
      } else if (codec === 'VP9') {
        const vp9 = Vp9RtpPayload.deSerialize(payload);
        if (vp9.vBit && vp9.width.length > 0) size = { width: vp9.width.at(-1)!, height: vp9.height.at(-1)! };
        else if (vp9.bBit && vp9.isKeyframe) size = vp9Dimensions(vp9.payload);
      } else if (codec === 'H264') {
        size = h264Size(payload);
      }
      if (size !== null && size.width > 0 && size.height > 0) {
        this.width = size.width;
        this.height = size.height;
      }
    } catch {
      // A packet that does not parse says nothing about the size.
    }
  }
}

/** The size in an H.264 packet carrying an SPS (alone or in a STAP-A). */
function h264Size(payload: Buffer): { width: number; height: number } | null {
  const type = payload[0]! & 0x1f;
  if (type === 7) return h264SpsDimensions(payload);
  if (type !== 24) return null;
  for (let offset = 1; offset + 2 <= payload.length;) {
    const length = payload.readUInt16BE(offset);
    const nal = payload.subarray(offset + 2, offset + 2 + length);
    if (nal.length > 0 && (nal[0]! & 0x1f) === 7) return h264SpsDimensions(nal);
    offset += 2 + length;
  }
  return null;
}

/**
 * Measures one published stream as the studio receives it: bitrate, packet loss from the RTP
 * sequence numbers (after retransmissions: what the recording gets), video frames per second
 * (frames completed by a marker bit) and the size told by keyframes.
 */
export class StreamHealth {
  readonly stream: Stream;
  readonly #tracks = new Map<MediaKind, TrackCounter>();
  readonly #lossSamples: Array<{ expected: number; received: number }> = [];
  readonly #frameRates: number[] = [];
  readonly #frameSamples: Array<{ frames: number; seconds: number }> = [];
  #lastSample = Date.now();
  #closed = false;

  constructor(stream: Stream) {
    this.stream = stream;
    for (const track of stream.tracks.values()) this.#attach(track);
    stream.on('track', (track) => this.#attach(track));
  }

  #attach(track: StreamTrack): void {
    if (this.#closed) return;
    this.#tracks.get(track.kind)?.unsubscribe();
    const counter = new TrackCounter();
    const codec = (track.track.codec?.mimeType.split('/')[1] ?? '').toUpperCase();
    const { unSubscribe } = track.track.onReceiveRtp.subscribe((rtp) =>
      counter.onPacket(rtp, track.kind, codec),
    );
    counter.unsubscribe = unSubscribe;
    this.#tracks.set(track.kind, counter);
  }

  /** The health since the previous sample; resets the interval counters. */
  sample(now = Date.now()): StreamHealthInfo {
    const seconds = Math.max(0.001, (now - this.#lastSample) / 1000);
    this.#lastSample = now;
    let bytes = 0;
    let expected = 0;
    let received = 0;
    for (const counter of this.#tracks.values()) {
      bytes += counter.bytes;
      if (counter.highest !== null && counter.highestAtSample !== null) {
        expected += counter.highest - counter.highestAtSample;
        received += counter.received;
        counter.highestAtSample = counter.highest;
      }
      counter.bytes = 0;
      counter.received = 0;
    }
    this.#lossSamples.push({ expected, received });
    if (this.#lossSamples.length > SMOOTHING_WINDOW) this.#lossSamples.shift();
    const window = this.#lossSamples.reduce(
      (sum, s) => ({ expected: sum.expected + s.expected, received: sum.received + s.received }),
      { expected: 0, received: 0 },
    );
    // Retransmitted or duplicated packets can outnumber the expected ones: no negative loss.
    const lossPercent =
      window.expected > 0 ? Math.max(0, ((window.expected - window.received) / window.expected) * 100) : 0;

    const video = this.#tracks.get('video');
    let frameRate: number | null = null;
    const warnings: HealthWarning[] = [];
    if (video !== undefined && !this.stream.videoMuted) {
      // Frames arrive in bursts when the network or this process stalls for a moment: the rate is
      // taken over the last two samples, so one late burst is not a halved frame rate.
      this.#frameSamples.push({ frames: video.frames, seconds });
      if (this.#frameSamples.length > SMOOTHING_WINDOW) this.#frameSamples.shift();
      const span = this.#frameSamples.reduce(
        (sum, f) => ({ frames: sum.frames + f.frames, seconds: sum.seconds + f.seconds }),
        { frames: 0, seconds: 0 },
      );
      frameRate = span.frames / span.seconds;
      video.frames = 0;
      const reference = Math.max(0, ...this.#frameRates);
      this.#frameRates.push(frameRate);
      if (this.#frameRates.length > FRAME_RATE_WINDOW) this.#frameRates.shift();
      if (reference >= 4 && frameRate <= reference / 2) warnings.push('frameRate');
    } else if (video !== undefined) {
      // A muted camera sends nothing on purpose: no frame-rate history to compare with.
      video.frames = 0;
      this.#frameRates.length = 0;
      this.#frameSamples.length = 0;
    }
    if (lossPercent > LOSS_WARNING_PERCENT) warnings.unshift('loss');
    return {
      streamId: this.stream.id,
      connectionId: this.stream.connectionId,
      bitrateKbps: Math.round((bytes * 8) / seconds / 1000),
      lossPercent: Math.round(lossPercent * 10) / 10,
      frameRate: frameRate === null ? null : Math.round(frameRate * 10) / 10,
      width: video?.width ?? null,
      height: video?.height ?? null,
      warnings,
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const counter of this.#tracks.values()) counter.unsubscribe();
    this.#tracks.clear();
  }
}
