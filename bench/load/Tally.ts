/**
 * What a load process sent and received inside the measurement window, per stream key
 * (`<connectionId>/<kind>`): sequence number, time (the machine-wide monotonic clock) and a
 * payload fingerprint per packet; media time per completed video frame. The harness joins the
 * tallies of all load processes after the run.
 */
import type { RtpPacket } from 'werift';
import type { SentFrames } from './frames';
import { payloadHash } from './rtpClip';
import { nowMs } from './ReplayPublisher';

export interface PacketLog {
  seq: number[];
  t: number[];
  hash: number[];
}

export interface TallyReport {
  sent: Record<string, PacketLog>;
  /** Payload bytes sent, per stream key. */
  bytes: Record<string, number>;
  /** Every video frame sent, per stream key. */
  frames: Record<string, SentFrames>;
  /** One entry per receiver in this process: through the studio (`sfu`) or the direct path. */
  received: Array<{ path: ReceivePath; logs: Record<string, PacketLog> }>;
}

export type ReceivePath = 'sfu' | 'direct';

const log = (): PacketLog => ({ seq: [], t: [], hash: [] });

export class Tally {
  sending = false;
  receiving = false;
  #sent = new Map<string, PacketLog>();
  #frames = new Map<string, SentFrames>();
  #bytes = new Map<string, number>();
  #received: Array<{ path: ReceivePath; logs: Map<string, PacketLog> }> = [];

  sent(key: string, seq: number, t: number, hash: number, bytes: number): void {
    if (!this.sending) return;
    this.#bytes.set(key, (this.#bytes.get(key) ?? 0) + bytes);
    let l = this.#sent.get(key);
    if (l === undefined) this.#sent.set(key, (l = log()));
    l.seq.push(seq);
    l.t.push(t);
    l.hash.push(hash);
  }

  /** A video frame completed: its media time (ms on the sender's timeline), size and send time. */
  frame(key: string, mediaMs: number, size: number, t: number): void {
    if (!this.sending) return;
    let l = this.#frames.get(key);
    if (l === undefined) this.#frames.set(key, (l = { ms: [], size: [], t: [] }));
    l.ms.push(mediaMs);
    l.size.push(size);
    l.t.push(t);
  }

  /** A new receiver; returns the function it calls for every packet it receives. */
  receiver(path: ReceivePath): (key: string, packet: RtpPacket) => void {
    const logs = new Map<string, PacketLog>();
    this.#received.push({ path, logs });
    return (key, packet) => {
      if (!this.receiving) return;
      const t = nowMs();
      let l = logs.get(key);
      if (l === undefined) logs.set(key, (l = log()));
      l.seq.push(packet.header.sequenceNumber);
      l.t.push(t);
      l.hash.push(payloadHash(packet.payload));
    };
  }

  /** Everything logged so far; the logs are cleared. */
  take(): TallyReport {
    const report: TallyReport = {
      sent: Object.fromEntries(this.#sent),
      frames: Object.fromEntries(this.#frames),
      bytes: Object.fromEntries(this.#bytes),
      received: this.#received.map((r) => ({ path: r.path, logs: Object.fromEntries(r.logs) })),
    };
    this.#sent = new Map();
    this.#frames = new Map();
    this.#bytes = new Map();
    for (const r of this.#received) r.logs.clear();
    return report;
  }
}
