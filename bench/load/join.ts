/**
 * Joins what the load processes sent with what they received: loss against the senders'
 * sequence numbers, and one-way latency per packet (both ends timestamp on the machine-wide
 * monotonic clock).
 */
import type { LoadCollect } from './protocol';
import type { ReceivePath } from './Tally';

export interface PathFigures {
  /** Packets that should have arrived: each packet sent in the window × receivers of its stream. */
  expected: number;
  received: number;
  /** Arrived with a sent sequence number but another payload (the path rewrote sequence numbers). */
  mismatched: number;
  /** One-way latencies, ms, sorted. */
  latencies: Float64Array;
}

interface Sent {
  t: number;
  hash: number;
}

/** The figures of one path (through the studio, or direct). */
export function joinPath(collects: LoadCollect[], path: ReceivePath): PathFigures {
  const sent = new Map<string, Map<number, Sent>>();
  for (const c of collects)
    for (const [key, log] of Object.entries(c.sent)) {
      if ((key.startsWith('direct/') ? 'direct' : 'sfu') !== path) continue;
      let bySeq = sent.get(key);
      if (bySeq === undefined) sent.set(key, (bySeq = new Map()));
      for (let i = 0; i < log.seq.length; i++) bySeq.set(log.seq[i]!, { t: log.t[i]!, hash: log.hash[i]! });
    }
  let sentTotal = 0;
  for (const bySeq of sent.values()) sentTotal += bySeq.size;

  let expected = 0;
  let received = 0;
  let mismatched = 0;
  const latencies: number[] = [];
  for (const c of collects)
    for (const receiver of c.received) {
      if (receiver.path !== path) continue;
      // Every receiver of a path gets every stream sent on that path.
      expected += sentTotal;
      for (const [key, log] of Object.entries(receiver.logs)) {
        const bySeq = sent.get(key);
        if (bySeq === undefined) continue;
        const seen = new Set<number>();
        for (let i = 0; i < log.seq.length; i++) {
          const seq = log.seq[i]!;
          const s = bySeq.get(seq);
          if (s === undefined || seen.has(seq)) continue; // sent outside the window, or a retransmission
          if (s.hash !== log.hash[i]) {
            mismatched++;
            continue;
          }
          seen.add(seq);
          received++;
          latencies.push(log.t[i]! - s.t);
        }
      }
    }
  const sorted = Float64Array.from(latencies).sort();
  return { expected, received, mismatched, latencies: sorted };
}

/** Largest number of packets any stream sent in the window (16-bit sequence numbers must not wrap). */
export function maxSentPerStream(collects: LoadCollect[]): number {
  let max = 0;
  for (const c of collects) for (const log of Object.values(c.sent)) max = Math.max(max, log.seq.length);
  return max;
}
