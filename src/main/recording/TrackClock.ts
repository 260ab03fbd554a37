/** Shortest stop of a sender's capture that counts as a pause (ms). */
export const PAUSE_MIN_MS = 100;
/**
 * A pause candidate is confirmed by what arrives over this long after it: frames that were only
 * held back (a network or receiver stall) come in a burst and catch up; after a real pause they
 * keep coming late by the pause's length.
 */
export const CONFIRM_WAIT_MS = 300;
/**
 * …longer while they are still catching up (arriving faster than real time: a stalled sender
 * or receiver), up to this long.
 */
const CONFIRM_MAX_MS = 1500;
/** Catching up: the newest held frames are this much less late than the first ones (ms). */
const CATCHING_UP_MS = 10;
/** Lateness minima are kept per bucket of arrival time. */
const BUCKET_MS = 1000;
const BUCKETS = 6;
/** Arrival-only drift tracking needs this long of media before correcting the rate. */
const ARRIVAL_DRIFT_SPAN_MS = 4000;
/** Lowest arrival lateness varies by this much (ms) without any drift (a loaded machine, the network). */
const ARRIVAL_JITTER_MS = 8;
/** SR drift tracking needs SRs this far apart before trusting the rate they give. */
const SR_DRIFT_SPAN_MS = 2000;
/** A clock rate further than this from nominal (1 %: devices drift 10–100 ppm) is no drift but a jittery or broken sender (ignored). */
const MAX_RATE_ERROR = 0.01;
/**
 * A sender report agrees with the arrivals when its NTP time less the arrival of the RTP time it
 * names (the lowest of the last frames) is within this of the track's earlier reports (ms). A
 * sender's clock and the network delay change far more slowly; a report stamped at another time
 * than its RTP timestamp's (werift 0.25 truncates the NTP fraction: up to 1 s early) does not.
 */
export const SR_AGREE_MS = 30;
/** Arrivals of the last frames this long (ms) give a report's arrival residual. */
const RESIDUAL_WINDOW_MS = 2000;
/** Reports in agreement, in a row, before a track is timed by them on its own… */
const TRUST_REPORTS = 3;
/**
 * …and once one of its reports disagreed: a jittery sender must prove itself for longer (werift's
 * truncated reports can agree three times in a row when they come whole seconds apart).
 */
const TRUST_REPORTS_AFTER_OUTLIER = 6;
/** Residuals kept as the reference (their median). */
const RESIDUALS_KEPT = 5;

/**
 * Pairs of numbers (an arrival time, ms, and a value) in arrival order, the oldest dropped by
 * age. Kept in two growing rings of doubles rather than an object per frame: a TrackClock keeps
 * seconds of them per track, and objects that live that long outlast the young generation and
 * are collected by the full, costly collections of the media worker (docs/threads.md).
 */
class ArrivalSeries {
  #arrival = new Float64Array(64);
  #value = new Float64Array(64);
  /** Index of the oldest pair. */
  #head = 0;
  #size = 0;

  get length(): number {
    return this.#size;
  }

  clear(): void {
    this.#head = 0;
    this.#size = 0;
  }

  push(arrival: number, value: number): void {
    if (this.#size === this.#arrival.length) this.#grow();
    const i = (this.#head + this.#size) % this.#arrival.length;
    this.#arrival[i] = arrival;
    this.#value[i] = value;
    this.#size++;
  }

  /** Drops the pairs that arrived more than `spanMs` before `now`. */
  dropOlderThan(now: number, spanMs: number): void {
    const capacity = this.#arrival.length;
    while (this.#size > 0 && now - this.#arrival[this.#head]! > spanMs) {
      this.#head = (this.#head + 1) % capacity;
      this.#size--;
    }
  }

  /** The `k`-th oldest pair's arrival and value. */
  arrivalAt(k: number): number {
    return this.#arrival[(this.#head + k) % this.#arrival.length]!;
  }

  valueAt(k: number): number {
    return this.#value[(this.#head + k) % this.#value.length]!;
  }

  #grow(): void {
    const arrival = new Float64Array(this.#arrival.length * 2);
    const value = new Float64Array(this.#value.length * 2);
    for (let k = 0; k < this.#size; k++) {
      arrival[k] = this.arrivalAt(k);
      value[k] = this.valueAt(k);
    }
    this.#arrival = arrival;
    this.#value = value;
    this.#head = 0;
  }
}

interface Held<T> {
  rtp: number;
  arrival: number;
  payload: T;
}

interface SenderReport {
  rtp: number;
  ntp: number;
}

/**
 * The clock of one received track: the sender time (ms) of an RTP timestamp, from RTCP sender
 * reports (NTP↔RTP) when the sender gives them, else from arrival times; the clock rate measured
 * continuously (drift); pauses of the sender's capture detected from arrival and SR times.
 * `recorderTime` = sender time + `offset` (the stream clock sets the offset: lip sync). See
 * docs/recording-timing.md.
 */
export class TrackClock<T> {
  readonly kind: 'audio' | 'video';
  readonly nominalHz: number;
  /** Measured ticks per second of the sender's clock. */
  hz: number;
  /** Recorder ms − sender ms. 0 while timed by arrival (the sender clock is then the arrival clock). */
  offset = 0;
  /** Whether sender reports time this track. */
  srMode = false;
  /** The first frame is not timed before this (recorder ms: the recording's start). */
  notBefore = -Infinity;
  /** Pauses found: at (recorder ms, where media stopped) and length (ms). */
  readonly pauses: Array<{ at: number; length: number }> = [];
  readonly #onTimed: (payload: T, timeMs: number, rtp: number) => void;
  /**
   * Whether the stream's other tracks were late too around an arrival time: then frames were held
   * up on the way (a stalled sender, network or receiver), not captured after a pause.
   */
  stalledElsewhere: (arrival: number, lateness: number) => boolean = () => false;
  /** Recent (arrival, lateness above the lowest) of emitted frames, for the other tracks' question. */
  readonly #recentLateness = new ArrivalSeries();
  #anchor: { rtp: number; ms: number } | null = null;
  #last: { rtp: number; arrival: number } | null = null;
  #held: Array<Held<T>> = [];
  /** The first frames are held to choose the anchor. */
  #starting = false;
  /** Minimum lateness (arrival − recorder time) per bucket of arrival time. */
  #buckets: Array<{ start: number; min: number }> = [];
  /** Arrival-only drift: where the current measuring span started. */
  #spanStart: number | null = null;
  #reports: SenderReport[] = [];
  /** A report that came before the first frame, applied with it. */
  #earlyReport: SenderReport | null = null;
  #lastReport: { ntp: number; arrival: number } | null = null;
  /** Lowest (arrival − RTP time at the nominal rate) per bucket since the last pause: the rate by arrival. */
  #raw: Array<{ start: number; min: number }> = [];
  /** Video: typical RTP gap between frames (ms), to tell a stop of the camera from a low frame rate. */
  #frameGapMs = 33;
  /** (arrival, RTP time) of the frames emitted over the last RESIDUAL_WINDOW_MS since the last pause (a report's arrival evidence). */
  readonly #recent = new ArrivalSeries();
  /** Arrival residuals of the reports that agree (the reference), and of a run that disagrees with them. */
  #agreeing: number[] = [];
  #disagreeing: number[] = [];
  /** A report of this track disagreed with the arrivals: trusting its reports takes longer. */
  #outlierSeen = false;
  /** Reports in a row that agreed with the reference. */
  #streak = 0;
  /** Reports that disagreed with the arrivals and were ignored (for the log and tests). */
  reportsIgnored = 0;
  /**
   * Whether an arrival residual agrees with the stream's other track's, timed by its reports: then
   * this track's first report is trusted (one sender, one clock).
   */
  peerAgrees: (residual: number) => boolean = () => false;

  constructor(
    kind: 'audio' | 'video',
    nominalHz: number,
    onTimed: (payload: T, timeMs: number, rtp: number) => void,
  ) {
    this.kind = kind;
    this.nominalHz = nominalHz;
    this.hz = nominalHz;
    this.#onTimed = onTimed;
  }

  get driftPpm(): number {
    return Math.round((this.hz / this.nominalHz - 1) * 1e6);
  }

  /** Arrival of the first frame waiting for a pause to be confirmed, or null. */
  get heldSince(): number | null {
    return this.#held[0]?.arrival ?? null;
  }

  senderTime(rtp: number): number {
    const anchor = this.#anchor!;
    return anchor.ms + ((rtp - anchor.rtp) * 1000) / this.hz;
  }

  recorderTime(rtp: number): number {
    return this.senderTime(rtp) + this.offset;
  }

  /** Lowest lateness (arrival − recorder time) seen lately: ~0 for the frames that come fastest. */
  get margin(): number | null {
    if (this.#buckets.length === 0) return null;
    let min = Infinity;
    for (const b of this.#buckets) min = Math.min(min, b.min);
    return min;
  }

  /**
   * Moves the offset by `deltaMs`, keeping the lateness history in step (every frame's lateness
   * changes by −delta). Forgetting it instead would leave no baseline to see a pause against:
   * audio resuming right after the offset moved would be taken as on time, seconds late.
   */
  moveOffset(deltaMs: number): void {
    this.offset += deltaMs;
    for (const b of this.#buckets) b.min -= deltaMs;
  }

  /** A frame (in RTP order) with the arrival of its first packet. */
  push(rtp: number, arrival: number, payload: T): void {
    if (this.#anchor === null) {
      // The first frames wait: the one that came fastest anchors the clock (a receiver busy at
      // the start stamps the first arrivals late).
      this.#anchor = { rtp, ms: arrival };
      this.#starting = true;
      this.#held.push({ rtp, arrival, payload });
      return;
    }
    if (this.#held.length > 0) {
      this.#held.push({ rtp, arrival, payload });
      this.#confirm(arrival);
      return;
    }
    const last = this.#last;
    const lateness = arrival - this.recorderTime(rtp);
    // Without lateness history (just re-based), the previous frame's lateness is the baseline.
    const baseline = this.margin ?? (last !== null ? last.arrival - this.recorderTime(last.rtp) : lateness);
    if (last !== null && arrival - last.arrival >= PAUSE_MIN_MS && lateness - baseline >= PAUSE_MIN_MS) {
      // The RTP clock stood still while time went on (libwebrtc's audio while nothing is
      // captured), or the network held the media back: the next frames tell which.
      this.#held.push({ rtp, arrival, payload });
      return;
    }
    this.#emit(rtp, arrival, payload);
  }

  /**
   * Whether this track's frames that arrived around `arrival` (±CONFIRM_WAIT_MS) came late by
   * half of `lateness` or more (a stall holds every track up by about as much).
   */
  lateAround(arrival: number, lateness: number): boolean {
    if (this.#held.length > 0 && Math.abs(this.#held[0]!.arrival - arrival) <= CONFIRM_MAX_MS) return true;
    const threshold = Math.max(PAUSE_MIN_MS / 2, lateness / 2);
    const recent = this.#recentLateness;
    for (let k = 0; k < recent.length; k++)
      if (Math.abs(recent.arrivalAt(k) - arrival) <= CONFIRM_WAIT_MS && recent.valueAt(k) >= threshold)
        return true;
    return false;
  }

  /** Releases frames held for a pause confirmation that waited long enough. */
  tick(now: number): void {
    if (this.#held.length > 0) this.#confirm(now);
  }

  /** Releases every held frame (at stop). */
  flush(): void {
    if (this.#held.length > 0) this.#confirm(Infinity);
  }

  #confirm(now: number): void {
    const first = this.#held[0]!;
    const waited = now - first.arrival;
    if (waited < CONFIRM_WAIT_MS) return;
    if (this.#starting) {
      this.#start();
      return;
    }
    if (waited < CONFIRM_MAX_MS && this.#catchingUp(now)) return;
    const held = this.#held;
    this.#held = [];
    const baseline = this.margin ?? 0;
    const lateness = Math.min(...held.map((h) => h.arrival - this.recorderTime(h.rtp))) - baseline;
    if (lateness >= PAUSE_MIN_MS && !this.stalledElsewhere(first.arrival, lateness)) {
      const length = Math.round(lateness);
      this.pauses.push({ at: this.recorderTime(first.rtp), length });
      this.#anchor = { rtp: first.rtp, ms: this.senderTime(first.rtp) + length };
      // Sender reports and arrivals from before the pause measure another stretch of the clock.
      this.#reports = [];
      this.#raw = [];
      this.#recent.clear();
      this.#spanStart = null;
    }
    for (const h of held) this.#emit(h.rtp, h.arrival, h.payload);
  }

  /** The first frames waited: the clock is anchored on the fastest of them, then they go on. */
  #start(): void {
    const held = this.#held;
    this.#held = [];
    this.#starting = false;
    const anchor = this.#anchor!;
    // Not before the recording started: a file's start offset cannot be negative.
    const fastest = Math.min(...held.map((h) => h.arrival - ((h.rtp - anchor.rtp) * 1000) / this.hz));
    const ms = Math.max(fastest, this.notBefore);
    this.#anchor = { rtp: anchor.rtp, ms };
    for (const h of held) this.#emit(h.rtp, h.arrival, h.payload);
    const early = this.#earlyReport;
    this.#earlyReport = null;
    if (early !== null) this.senderReport(early.rtp, early.ntp, held[held.length - 1]!.arrival);
  }

  /** Whether the frames held lately are less late than the ones before them. */
  #catchingUp(now: number): boolean {
    const lateness = (h: Held<T>) => h.arrival - this.recorderTime(h.rtp);
    const recent = this.#held.filter((h) => now - h.arrival < CONFIRM_WAIT_MS / 2);
    const older = this.#held.filter((h) => now - h.arrival >= CONFIRM_WAIT_MS / 2);
    if (recent.length === 0 || older.length === 0) return false;
    return Math.min(...recent.map(lateness)) < Math.min(...older.map(lateness)) - CATCHING_UP_MS;
  }

  #emit(rtp: number, arrival: number, payload: T): void {
    const last = this.#last;
    if (last !== null && this.kind === 'video' && rtp > last.rtp) {
      const gap = ((rtp - last.rtp) * 1000) / this.hz;
      // A camera that stopped: its RTP clock jumps with the wall clock (no lateness), but the
      // gap is far longer than its frame interval.
      if (gap >= PAUSE_MIN_MS + this.#frameGapMs && gap >= 4 * this.#frameGapMs) {
        this.pauses.push({
          at: this.recorderTime(last.rtp) + this.#frameGapMs,
          length: Math.round(gap - this.#frameGapMs),
        });
      } else {
        this.#frameGapMs += (gap - this.#frameGapMs) / 16;
      }
    }
    // Updated in place: one object per track, not one per frame.
    if (last === null) this.#last = { rtp, arrival };
    else {
      last.rtp = rtp;
      last.arrival = arrival;
    }
    const lateness = arrival - this.recorderTime(rtp);
    this.#recentLateness.push(arrival, lateness - (this.margin ?? lateness));
    this.#recentLateness.dropOlderThan(arrival, 5000);
    this.#recent.push(arrival, rtp);
    this.#recent.dropOlderThan(arrival, RESIDUAL_WINDOW_MS);
    this.#observeRaw(arrival, arrival - (rtp * 1000) / this.nominalHz);
    this.#observe(arrival, arrival - this.recorderTime(rtp));
    this.#onTimed(payload, this.recorderTime(rtp), rtp);
  }

  #observe(arrival: number, lateness: number): void {
    const bucket = this.#buckets[this.#buckets.length - 1];
    if (bucket !== undefined && arrival - bucket.start < BUCKET_MS) {
      bucket.min = Math.min(bucket.min, lateness);
      return;
    }
    this.#buckets.push({ start: arrival, min: lateness });
    if (this.#buckets.length > BUCKETS) this.#buckets.shift();
    if (!this.srMode) {
      this.#arrivalBase();
      this.#arrivalDrift(arrival);
    }
  }

  /**
   * Sender reports may come seconds apart (libwebrtc: 2.5–7.5 s for audio): until two of them
   * measure the rate, the lowest arrival lateness per second does (a least-squares slope).
   */
  #observeRaw(arrival: number, lateness: number): void {
    const bucket = this.#raw[this.#raw.length - 1];
    if (bucket !== undefined && arrival - bucket.start < BUCKET_MS) {
      bucket.min = Math.min(bucket.min, lateness);
      return;
    }
    this.#raw.push({ start: arrival, min: lateness });
    if (this.#raw.length > 30) this.#raw.shift();
    const complete = this.#raw.slice(0, -1);
    const last = this.#last;
    if (!this.srMode || this.#srRateKnown || last === null || complete.length < 3) return;
    const n = complete.length;
    const mx = complete.reduce((a, b) => a + b.start, 0) / n;
    const my = complete.reduce((a, b) => a + b.min, 0) / n;
    let sxx = 0;
    let sxy = 0;
    for (const b of complete) {
      sxx += (b.start - mx) ** 2;
      sxy += (b.start - mx) * (b.min - my);
    }
    if (sxx === 0) return;
    const slope = sxy / sxx;
    if (Math.abs(slope) > MAX_RATE_ERROR) return;
    const at = this.senderTime(last.rtp);
    this.hz = this.nominalHz * (1 - slope);
    this.#anchor = { rtp: last.rtp, ms: at };
  }

  get #srRateKnown(): boolean {
    const first = this.#reports[0];
    const last = this.#reports[this.#reports.length - 1];
    return first !== undefined && last !== undefined && last.ntp - first.ntp >= SR_DRIFT_SPAN_MS;
  }

  /**
   * Timed by arrival, the first frame is the anchor: if it came late (jitter), every later frame
   * seems early. The mapping moves to the lowest lateness of the complete buckets, so that the
   * frames that come fastest are on time (a step back, absorbed by the stream clock).
   */
  #arrivalBase(): void {
    const complete = this.#buckets.slice(0, -1);
    if (complete.length === 0) return;
    const lowest = Math.min(...complete.map((b) => b.min));
    if (lowest > -ARRIVAL_JITTER_MS / 4) return;
    this.#anchor = { rtp: this.#anchor!.rtp, ms: this.#anchor!.ms + lowest };
    for (const b of this.#buckets) b.min -= lowest;
  }

  /**
   * Without sender reports the arrival times are the only clock: a steady rise (or fall) of the
   * lowest lateness is the RTP clock running slow (or fast). The rate is corrected and the
   * mapping moved to the lowest lateness, keeping the time of the last frame.
   */
  #arrivalDrift(arrival: number): void {
    const last = this.#last;
    if (last === null || this.#buckets.length < 4) return;
    this.#spanStart ??= this.#buckets[0]!.start;
    const first = this.#buckets[0]!;
    const end = this.#buckets[this.#buckets.length - 2]!; // the newest complete bucket
    const span = end.start - first.start;
    if (arrival - this.#spanStart < ARRIVAL_DRIFT_SPAN_MS || span <= 0) return;
    const slope = (end.min - first.min) / span;
    // Two seconds' lowest lateness differ by the arrival jitter too: only a change beyond it
    // is drift (5,000 ppm shows after 2 s, 100 ppm after 100 s).
    if (Math.abs(end.min - first.min) < ARRIVAL_JITTER_MS || Math.abs(slope) > MAX_RATE_ERROR) return;
    const at = this.senderTime(last.rtp);
    this.hz *= 1 - slope;
    this.#anchor = { rtp: last.rtp, ms: at + (end.min - first.min) };
    this.#buckets = [];
    this.#spanStart = arrival;
  }

  /** The arrival residual of this track's agreeing reports (their median), or null before one. */
  get residual(): number | null {
    return this.#agreeing.length === 0 ? null : median(this.#agreeing);
  }

  /** NTP time of a report less the arrival its RTP time would have had (the lowest of the last frames'). */
  #residual(rtp: number, ntpMs: number): number {
    const recent = this.#recent;
    let arrival = Infinity;
    for (let k = 0; k < recent.length; k++)
      arrival = Math.min(arrival, recent.arrivalAt(k) - ((recent.valueAt(k) - rtp) * 1000) / this.hz);
    return ntpMs - arrival;
  }

  /**
   * Whether a report agrees with the arrivals as the track's earlier reports did. Reports that
   * disagree are ignored, unless enough of them agree with each other: then the reference was the
   * odd one (or the sender's clock stepped) and they become it; a track timed by reports is
   * re-based on the new one, keeping its times.
   */
  #agrees(rtp: number, ntpMs: number, residual: number): boolean {
    if (this.#agreeing.length === 0 || Math.abs(residual - median(this.#agreeing)) <= SR_AGREE_MS) {
      this.#agreeing.push(residual);
      if (this.#agreeing.length > RESIDUALS_KEPT) this.#agreeing.shift();
      this.#disagreeing = [];
      this.#streak++;
      return true;
    }
    this.#outlierSeen = true;
    this.#streak = 0;
    if (this.#disagreeing.length > 0 && Math.abs(residual - median(this.#disagreeing)) > SR_AGREE_MS)
      this.#disagreeing = [];
    this.#disagreeing.push(residual);
    if (this.#disagreeing.length < TRUST_REPORTS) return false;
    this.#agreeing = this.#disagreeing;
    this.#streak = this.#disagreeing.length;
    this.#disagreeing = [];
    if (this.srMode) {
      this.offset = this.recorderTime(rtp) - ntpMs;
      this.#anchor = { rtp, ms: ntpMs };
      this.#reports = [{ rtp, ntp: ntpMs }];
    }
    return false;
  }

  /**
   * Whether reports time the track from now on: a few in agreement, or the first one if it agrees
   * with the stream's other track, already timed by its reports (one sender, one clock).
   */
  #trusted(residual: number): boolean {
    if (!this.#outlierSeen && this.peerAgrees(residual)) return true;
    return this.#streak >= (this.#outlierSeen ? TRUST_REPORTS_AFTER_OUTLIER : TRUST_REPORTS);
  }

  /**
   * A sender report: the sender's NTP time (ms) of an RTP timestamp. The first one switches the
   * track to sender time (keeping its current times: the offset takes the difference). Later ones
   * measure the clock rate over the longest stretch without a pause, and move the mapping to the
   * reports; one that disagrees by a pause's length or more starts a new stretch.
   */
  senderReport(rtp: number, ntpMs: number, arrival: number): void {
    if (this.#anchor === null || this.#starting) {
      this.#earlyReport = { rtp, ntp: ntpMs };
      return;
    }
    if (this.#held.length > 0) return;
    const previous = this.#lastReport;
    this.#lastReport = { ntp: ntpMs, arrival };
    // A report that disagrees with the time between reports (its NTP clock, or its RTP mapping
    // by more than that time) maps nothing: some senders (relays, simple clients) fill reports
    // with unrelated clocks. It is ignored; the next consistent one is used.
    if (previous !== null) {
      const elapsed = arrival - previous.arrival;
      const slack = Math.max(1000, elapsed * 0.1);
      if (Math.abs(ntpMs - previous.ntp - elapsed) > slack) return;
      if (this.srMode && Math.abs(ntpMs - this.senderTime(rtp)) > elapsed + slack) return;
    }
    if (this.#recent.length === 0) return;
    const residual = this.#residual(rtp, ntpMs);
    const agrees = this.#agrees(rtp, ntpMs, residual);
    if (!agrees) {
      this.reportsIgnored++;
      return;
    }
    if (!this.srMode) {
      if (!this.#trusted(residual)) return;
      this.offset = this.recorderTime(rtp) - ntpMs;
      this.#anchor = { rtp, ms: ntpMs };
      this.srMode = true;
      this.#reports = [{ rtp, ntp: ntpMs }];
      return;
    }
    const error = ntpMs - this.senderTime(rtp);
    // A report that puts the sender's clock behind the mapping by a pause's length is no pause
    // (a pause only moves it ahead): it is a sender whose reports jitter (werift-based clients
    // stamp them from the last packet sent). Moving the mapping back would re-time later frames
    // before ones already written, so they would be dropped as late: the report is ignored.
    if (error <= -PAUSE_MIN_MS) return;
    if (Math.abs(error) >= PAUSE_MIN_MS) {
      if (error > 0) this.pauses.push({ at: this.recorderTime(rtp), length: Math.round(error) });
      this.#anchor = { rtp, ms: ntpMs };
      this.#reports = [{ rtp, ntp: ntpMs }];
      return;
    }
    this.#reports.push({ rtp, ntp: ntpMs });
    if (this.#reports.length > 64) this.#reports.splice(1, 1);
    const first = this.#reports[0]!;
    const span = ntpMs - first.ntp;
    if (span >= SR_DRIFT_SPAN_MS) {
      const hz = ((rtp - first.rtp) * 1000) / span;
      if (Math.abs(hz / this.nominalHz - 1) <= MAX_RATE_ERROR) this.hz = hz;
    }
    // Reports stamped when sent rather than when captured come late, never early: the lowest
    // of the last few is the mapping.
    const recent = this.#reports.slice(-5);
    const base = Math.min(...recent.map((r) => r.ntp - ((r.rtp - first.rtp) * 1000) / this.hz));
    this.#anchor = { rtp: first.rtp, ms: base };
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}
