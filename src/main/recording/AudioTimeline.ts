import { OPUS_SILENCE_20MS, opusPacketSamples } from './codecs';

/**
 * Corrections wait for a quiet frame until the error reaches this (ms)… More than half a 20 ms
 * frame, so that a correction never calls for the opposite one.
 */
const QUIET_ERROR_MS = 11;
/** …and are made on any frame past this. */
const FORCE_ERROR_MS = 15;
/** Gaps up to this long (ms) are written as silence frames (10 min: 30,000 frames of 3 bytes). */
const MAX_FILL_MS = 600_000;

export interface PlacedFrame {
  timeMs: number;
  data: Buffer;
  /** Inserted by the timeline (silence or a repeated frame). */
  inserted: boolean;
}

/**
 * Places Opus frames on a track's file timeline so that the file plays in sync both by its
 * timestamps and as one continuous stream of samples (players that play frames back to back):
 * each frame is written where the previous one ends. When the frames' measured times run ahead
 * of that position (a pause, lost packets, a slow audio clock), whole frames are added: silence
 * for gaps, a repeat of a quiet frame for drift; when they fall behind (a fast clock), a quiet
 * frame is left out. The error stays within ±`FORCE_ERROR_MS`. Nothing is transcoded.
 */
export class AudioTimeline {
  /** Where the next frame starts (recorder ms). */
  #cursor: number | null = null;
  #averageSize = 0;
  /** Frames added (silence or repeats) and left out, for the manifest. */
  inserted = 0;
  removed = 0;
  /** Frames that came after the timeline had been filled past them (network late). */
  late = 0;

  get cursor(): number | null {
    return this.#cursor;
  }

  /** The frames to write for one received frame timed at `timeMs` (may be none). */
  place(timeMs: number, data: Buffer): PlacedFrame[] {
    const durationMs = (opusPacketSamples(data) ?? 960) / 48;
    const quiet = this.#averageSize > 0 && data.length <= Math.max(12, this.#averageSize * 0.6);
    this.#averageSize += (data.length - this.#averageSize) / (this.#averageSize === 0 ? 1 : 32);
    this.#cursor ??= timeMs;
    const out: PlacedFrame[] = [];
    let error = timeMs - this.#cursor;
    if (error >= 2 * 20 - QUIET_ERROR_MS) {
      // A gap: silence up to this frame's time.
      out.push(...this.fill(timeMs - 20 / 2));
      error = timeMs - this.#cursor;
    }
    if (error >= FORCE_ERROR_MS || (error >= QUIET_ERROR_MS && quiet)) {
      out.push(this.#add(quiet ? data : OPUS_SILENCE_20MS, quiet ? durationMs : 20));
    } else if (error <= -durationMs - FORCE_ERROR_MS) {
      this.late++;
      return out;
    } else if (error <= -FORCE_ERROR_MS || (error <= -QUIET_ERROR_MS && quiet)) {
      this.removed++;
      return out;
    }
    out.push({ timeMs: this.#cursor, data, inserted: false });
    this.#cursor += durationMs;
    return out;
  }

  /**
   * Silence frames from the end of the last frame up to `untilMs` (a gap, or time passing). A gap
   * longer than `MAX_FILL_MS` stays a gap in the timestamps (decoders play silence there).
   */
  fill(untilMs: number): PlacedFrame[] {
    const out: PlacedFrame[] = [];
    if (this.#cursor === null) return out;
    if (untilMs - this.#cursor > MAX_FILL_MS) {
      this.#cursor = untilMs - 20;
      return out;
    }
    while (this.#cursor + 20 <= untilMs) out.push(this.#add(OPUS_SILENCE_20MS, 20));
    return out;
  }

  /**
   * Silence frames that start at or before `timeMs`: the interleaver writes everything up to that
   * time, so a frame starting before it but made later would come after its place was written
   * (dropped: a 20 ms hole in the stream that a player playing frames back to back closes).
   */
  fillThrough(timeMs: number): PlacedFrame[] {
    return this.fill(timeMs + 20);
  }

  #add(data: Buffer, durationMs: number): PlacedFrame {
    const frame = { timeMs: this.#cursor!, data, inserted: true };
    this.#cursor! += durationMs;
    this.inserted++;
    return frame;
  }
}
