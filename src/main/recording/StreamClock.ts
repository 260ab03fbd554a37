import type { TrackTiming } from '../../shared/archive';
import { TrackClock } from './TrackClock';

type Kind = 'audio' | 'video';

/** Lip sync moves the tracks' offsets only when they disagree by more than this (ms). */
const OFFSET_HYSTERESIS_MS = 20;
/** Frames may come this much before their time (ms) before the offset is lowered. */
const EARLY_LIMIT_MS = 150;
/** Audio and video reports further apart than this (ms) are not one sender's clock. */
const LIP_SYNC_MAX_MS = 1000;
/** A step back of a track's time is spread over its next frames at this fraction of their length. */
const SLEW = 0.25;

interface TrackState<T> {
  clock: TrackClock<T>;
  last: { rtp: number; raw: number; out: number } | null;
  /** Part of a backward step not yet absorbed (ms). */
  carry: number;
  lipSyncCorrectionMs: number;
}

/**
 * The clock of one stream: a `TrackClock` per track and the offset that maps sender time to the
 * recorder's clock. When both tracks are timed by sender reports, both get the same offset, so
 * audio and video captured at the same instant get the same time (lip sync from the SR pair). The
 * offset follows the arrival of the slowest track (a sender's wall clock drifts from ours too).
 * Each track's times only go forward: a forward step (a pause) is a gap, a backward step is
 * absorbed over the next frames.
 */
export class StreamClock<T> {
  readonly #tracks = new Map<Kind, TrackState<T>>();
  readonly #onTimed: (kind: Kind, payload: T, timeMs: number) => void;
  #lipSynced = false;

  readonly #notBefore: number;

  /** `notBefore`: no track's first frame is timed before it (the recording's start, ms). */
  constructor(onTimed: (kind: Kind, payload: T, timeMs: number) => void, notBefore = -Infinity) {
    this.#onTimed = onTimed;
    this.#notBefore = notBefore;
  }

  addTrack(kind: Kind, clockRate: number): void {
    if (this.#tracks.has(kind)) return;
    const state: TrackState<T> = {
      clock: new TrackClock<T>(kind, clockRate, (payload, raw, rtp) => this.#timed(kind, payload, raw, rtp)),
      last: null,
      carry: 0,
      lipSyncCorrectionMs: 0,
    };
    // A frozen RTP clock is a pause only if the other track was on time meanwhile (libwebrtc's
    // video clock runs on through a pause; a stalled sender holds every track up).
    state.clock.stalledElsewhere = (arrival, lateness) =>
      [...this.#tracks.entries()].some(([k, s]) => k !== kind && s.clock.lateAround(arrival, lateness));
    state.clock.notBefore = this.#notBefore;
    state.clock.peerAgrees = (residual) =>
      [...this.#tracks.entries()].some(
        ([k, s]) =>
          k !== kind &&
          s.clock.srMode &&
          s.clock.residual !== null &&
          Math.abs(s.clock.residual - residual) <= LIP_SYNC_MAX_MS,
      );
    this.#tracks.set(kind, state);
  }

  track(kind: Kind): TrackClock<T> | undefined {
    return this.#tracks.get(kind)?.clock;
  }

  /** A frame of a track (in RTP order): extended RTP timestamp and first packet's arrival (ms). */
  push(kind: Kind, rtp: number, arrival: number, payload: T): void {
    this.#tracks.get(kind)?.clock.push(rtp, arrival, payload);
  }

  /** Arrival of the oldest frame any track holds for a pause confirmation, or null. */
  get heldSince(): number | null {
    const held = [...this.#tracks.values()].map((s) => s.clock.heldSince).filter((h) => h !== null);
    return held.length === 0 ? null : Math.min(...held);
  }

  tick(now: number): void {
    for (const { clock } of this.#tracks.values()) clock.tick(now);
  }

  flush(): void {
    for (const { clock } of this.#tracks.values()) clock.flush();
  }

  /** An RTCP sender report of a track: NTP time (ms) of an extended RTP timestamp, and its arrival. */
  senderReport(kind: Kind, rtp: number, ntpMs: number, arrival = Date.now()): void {
    const state = this.#tracks.get(kind);
    if (state === undefined) return;
    const before = state.last === null ? null : state.clock.recorderTime(state.last.rtp);
    state.clock.senderReport(rtp, ntpMs, arrival);
    if (before !== null && state.last !== null) this.#stepped(state, before);
    this.#sync();
  }

  /** Timing of a track so far (lip sync, drift, pauses in recorder ms). */
  timing(kind: Kind): TrackTiming | null {
    const state = this.#tracks.get(kind);
    if (state === undefined) return null;
    return {
      driftPpm: state.clock.driftPpm,
      lipSyncCorrectionMs: Math.round(state.lipSyncCorrectionMs),
      pauses: state.clock.pauses.map((p) => ({ at: p.at, length: p.length })),
    };
  }

  /**
   * Lip sync and the offset: tracks timed by sender reports share one offset, the largest of
   * theirs (moving a track later leaves a gap; earlier would overlap what was written). Later,
   * the offset follows the slowest track's lowest lateness, with hysteresis.
   */
  #sync(): void {
    const timed = [...this.#tracks.values()].filter((s) => s.clock.srMode);
    if (timed.length === 0) return;
    // Tracks whose reports put them seconds apart do not share a clock: no lip sync from them.
    const offsets = timed.map((s) => s.clock.offset);
    if (Math.max(...offsets) - Math.min(...offsets) > LIP_SYNC_MAX_MS) return;
    const both = timed.length === this.#tracks.size && timed.length === 2;
    let target: number;
    if (both && !this.#lipSynced) {
      target = Math.max(...timed.map((s) => s.clock.offset));
      this.#lipSynced = true;
      for (const state of timed) state.lipSyncCorrectionMs += target - state.clock.offset;
    } else {
      const margins = timed.map((s) => s.clock.margin);
      if (margins.some((m) => m === null)) return;
      const latest = Math.max(...(margins as number[]));
      const current = Math.max(...timed.map((s) => s.clock.offset));
      if (latest > OFFSET_HYSTERESIS_MS) target = current + latest;
      else if (latest < -EARLY_LIMIT_MS) target = current + latest + OFFSET_HYSTERESIS_MS;
      else if (!this.#lipSynced || !both) return;
      else if (timed.every((s) => s.clock.offset === current)) return;
      else target = current;
    }
    for (const state of timed) {
      if (state.clock.offset === target) continue;
      const before = state.last === null ? null : state.clock.recorderTime(state.last.rtp);
      state.clock.moveOffset(target - state.clock.offset);
      if (before !== null) this.#stepped(state, before);
    }
  }

  /** The mapping of a track changed: a step back is carried and absorbed over the next frames. */
  #stepped(state: TrackState<T>, before: number): void {
    const after = state.clock.recorderTime(state.last!.rtp);
    if (after < before) state.carry += before - after;
  }

  #timed(kind: Kind, payload: T, raw: number, rtp: number): void {
    const state = this.#tracks.get(kind)!;
    const last = state.last;
    let out = raw;
    if (last !== null) {
      const nominal = ((rtp - last.rtp) * 1000) / state.clock.hz;
      state.carry = Math.max(0, state.carry - SLEW * Math.max(0, nominal));
      out = raw + state.carry;
      // Never back in time on its own track (a step the mapping took without telling).
      if (out <= last.out) {
        state.carry += last.out - out + (1 - SLEW) * Math.max(1, nominal);
        out = raw + state.carry;
      }
    }
    state.last = { rtp, raw, out };
    this.#onTimed(kind, payload, out);
  }
}
