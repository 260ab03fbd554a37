/**
 * The NACKs a receiver sends for lost video packets (RFC 4585 generic NACK), in place of
 * werift's `NackHandler` (0.25.2), which the studio's receivers used before:
 *
 * - **Its cost was the sender's to choose.** For a jump of the sequence number it marked every
 *   number in between as lost, one object property each, then sorted them all as strings to
 *   keep the newest 150: a guest sending 30000, 60000, 65535 in a loop held the media worker
 *   (every room on it) for ~65 ms per packet (measured: 100 such packets, 6.4 s). Here a packet
 *   adds at most `MAX_MISSING` numbers, and a jump beyond `MAX_GAP` is a new stretch of the
 *   stream (a restart or a hostile sender), not loss.
 * - **It asked 11 times in 55 ms, then never again**: less than one round trip on most
 *   networks, so a lost retransmission meant a lost packet (a broken picture, a keyframe wait)
 *   although the recorder waits 300 ms for it. Here a packet is asked for again once a round
 *   trip (measured from the retransmissions that came) has passed, until `GIVE_UP_MS`.
 * - It did not see losses across the 16-bit wrap of the sequence number, and mixed the
 *   sequence numbers of a receiver's SSRCs (simulcast layers) into one list.
 */
import { performance } from 'node:perf_hooks';
import { GenericNack, RTCRtpReceiver, RtcpTransportLayerFeedback, type RtpPacket } from 'werift';
import { closest, wrapped } from '../util/wrapped';

/** Missing packets kept per stream at most (the newest): werift's own bound. */
export const MAX_MISSING = 150;
/** A jump of the sequence number by more than this (either way) is a new stretch of the stream, not loss. */
export const MAX_GAP = 1000;
/** A missing packet is asked for until it is this old (ms): the recorder waits 300 ms for one. */
export const GIVE_UP_MS = 280;
/** Requests for one packet at most. */
export const MAX_ATTEMPTS = 10;
/** Retries are spaced by the round trip, within these bounds (ms). */
export const MIN_RETRY_MS = 10;
export const MAX_RETRY_MS = 100;
/** The round trip assumed until a retransmission has measured one (ms). */
export const DEFAULT_RTT_MS = 40;
/** How often the due requests are looked at while packets are missing (ms: werift's period). */
const TICK_MS = 5;
/** Streams (SSRCs) followed per receiver at most: a simulcast sender has three. */
const MAX_STREAMS = 8;

interface Missing {
  /** When the loss was seen, and the last request for it (ms), and how many requests. */
  seenAt: number;
  askedAt: number;
  attempts: number;
}

/** One stream's (SSRC's) missing packets, by extended sequence number, oldest first. */
class StreamLosses {
  /** The highest extended sequence number received. */
  highest: number | null = null;
  readonly missing = new Map<number, Missing>();

  /** A packet came: what it fills in, what it shows missing. Returns the round trip it measured, or null. */
  received(sequenceNumber: number, now: number): number | null {
    if (this.highest === null) {
      // Well above zero: packets from "before" the first one stay positive.
      this.highest = 65536 * 16 + sequenceNumber;
      return null;
    }
    const seq = closest(sequenceNumber, this.highest, 65536);
    if (seq < this.highest - MAX_GAP) {
      // Far behind: the sender started again lower (a new encoder, a reconnect), or is hostile.
      // Waiting until it passes the old highest would leave its losses unasked for that long.
      this.highest = seq;
      this.missing.clear();
      return null;
    }
    if (seq <= this.highest) {
      const was = this.missing.get(seq);
      if (was === undefined) return null;
      this.missing.delete(seq);
      // Only a packet asked for once measures the round trip (another request may be the one answered).
      return was.attempts === 1 ? now - was.askedAt : null;
    }
    const gap = seq - this.highest - 1;
    const from = Math.max(this.highest + 1, seq - MAX_MISSING);
    this.highest = seq;
    if (gap === 0) return null;
    if (gap > MAX_GAP) {
      // A new stretch: what was missing before it will not be asked for any more either.
      this.missing.clear();
      return null;
    }
    for (let s = from; s < seq; s++) this.missing.set(s, { seenAt: now, askedAt: -Infinity, attempts: 0 });
    // Numbers only ever enter above the highest: the first in the map are the oldest.
    for (const s of this.missing.keys()) {
      if (this.missing.size <= MAX_MISSING) break;
      this.missing.delete(s);
    }
    return null;
  }

  /** The 16-bit sequence numbers to ask for now, in order; forgets those given up. */
  due(now: number, retryMs: number): number[] {
    const lost: number[] = [];
    for (const [seq, m] of this.missing) {
      if (now - m.seenAt > GIVE_UP_MS || m.attempts >= MAX_ATTEMPTS) {
        this.missing.delete(seq);
        continue;
      }
      if (now - m.askedAt < retryMs) continue;
      m.askedAt = now;
      m.attempts++;
      lost.push(u16(seq));
    }
    return lost;
  }
}

/** The missing packets of one receiver's streams and when to ask for them. */
export class NackRequests {
  readonly #streams = new Map<number, StreamLosses>();
  /** Smoothed round trip from a request to its retransmission (ms), or null before one. */
  #rtt: number | null = null;

  get rttMs(): number | null {
    return this.#rtt;
  }

  /** Spacing of requests for the same packet: a little more than a round trip. */
  get retryMs(): number {
    const rtt = this.#rtt ?? DEFAULT_RTT_MS;
    return Math.min(MAX_RETRY_MS, Math.max(MIN_RETRY_MS, rtt + Math.max(5, rtt / 4)));
  }

  get missingCount(): number {
    let count = 0;
    for (const stream of this.#streams.values()) count += stream.missing.size;
    return count;
  }

  received(ssrc: number, sequenceNumber: number, now: number): void {
    let stream = this.#streams.get(ssrc);
    if (stream === undefined) {
      if (this.#streams.size >= MAX_STREAMS) {
        const oldest = this.#streams.keys().next().value!;
        this.#streams.delete(oldest);
      }
      stream = new StreamLosses();
      this.#streams.set(ssrc, stream);
    }
    const rtt = stream.received(sequenceNumber, now);
    if (rtt !== null) this.#rtt = this.#rtt === null ? rtt : this.#rtt + (rtt - this.#rtt) / 8;
  }

  /** Each stream's sequence numbers to ask for now (streams with none left out). */
  due(now: number): Array<{ ssrc: number; lost: number[] }> {
    const requests: Array<{ ssrc: number; lost: number[] }> = [];
    const retryMs = this.retryMs;
    for (const [ssrc, stream] of this.#streams) {
      const lost = stream.due(now, retryMs);
      if (lost.length > 0) requests.push({ ssrc, lost });
    }
    return requests;
  }

  /** The missing 16-bit sequence numbers of every stream (werift's `lostSeqNumbers`). */
  lost(): number[] {
    return [...this.#streams.values()].flatMap((s) => [...s.missing.keys()].map(u16));
  }

  clear(): void {
    this.#streams.clear();
  }
}

/**
 * An extended sequence number's 16 bits. Extended numbers can go below zero: each jump far back
 * starts a new stretch lower (a hostile sender can make as many as it likes).
 */
const u16 = (seq: number): number => wrapped(seq, 65536);

/** What this module uses of werift's `NackHandler` and its receiver. */
interface WeriftNackHandler {
  receiver: {
    rtcpSsrc: number;
    dtlsTransport: { sendRtcp(packets: RtcpTransportLayerFeedback[]): Promise<unknown> };
  };
  onPacketLost: { execute(nack: GenericNack): void };
  closed: boolean;
}

interface Installed {
  requests: NackRequests;
  timer: ReturnType<typeof setInterval> | null;
}

const state = new WeakMap<WeriftNackHandler, Installed>();

function stateOf(handler: WeriftNackHandler): Installed {
  let s = state.get(handler);
  if (s === undefined) {
    s = { requests: new NackRequests(), timer: null };
    state.set(handler, s);
  }
  return s;
}

/** Sends the due requests of a handler; stops its timer when nothing is missing. */
function tick(handler: WeriftNackHandler, s: Installed): void {
  for (const { ssrc, lost } of s.requests.due(performance.now())) {
    const nack = new GenericNack({ senderSsrc: handler.receiver.rtcpSsrc, mediaSourceSsrc: ssrc, lost });
    handler.receiver.dtlsTransport
      .sendRtcp([new RtcpTransportLayerFeedback({ feedback: nack })])
      .catch(() => {});
    handler.onPacketLost.execute(nack);
  }
  if (s.requests.missingCount === 0 && s.timer !== null) {
    clearInterval(s.timer);
    s.timer = null;
  }
}

let installed = false;

/**
 * Puts `NackRequests` behind werift's `NackHandler` (its class is not exported: reached through
 * a receiver's). werift's receiver calls `addPacket` for each video packet (a retransmission
 * unwrapped from RTX first) when NACK is negotiated, and `close` when it stops.
 */
export function installNackRequests(): void {
  if (installed) return;
  installed = true;
  const receiver = new RTCRtpReceiver({} as never, 'video', 0) as unknown as { nack: object };
  const proto = Object.getPrototypeOf(receiver.nack) as Record<string, unknown>;
  for (const name of ['addPacket', 'close']) {
    if (typeof proto[name] !== 'function') throw new Error(`werift's NackHandler has no ${name}`);
  }
  proto.addPacket = function (this: WeriftNackHandler, packet: RtpPacket) {
    if (this.closed) return;
    const s = stateOf(this);
    s.requests.received(packet.header.ssrc, packet.header.sequenceNumber, performance.now());
    if (s.timer === null && s.requests.missingCount > 0) s.timer = setInterval(() => tick(this, s), TICK_MS);
  };
  proto.close = function (this: WeriftNackHandler) {
    this.closed = true;
    const s = state.get(this);
    if (s === undefined) return;
    if (s.timer !== null) clearInterval(s.timer);
    s.timer = null;
    s.requests.clear();
  };
  Object.defineProperty(proto, 'lostSeqNumbers', {
    configurable: true,
    get(this: WeriftNackHandler) {
      return state.get(this)?.requests.lost() ?? [];
    },
  });
}

/** @internal For tests: the requests behind a receiver's NACK handler. */
export function nackRequestsOf(handler: object): NackRequests | undefined {
  return state.get(handler as WeriftNackHandler)?.requests;
}
