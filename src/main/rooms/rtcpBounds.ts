/**
 * A bound on werift's (0.25.2) parsing of transport-wide congestion control feedback (RTCP RTPFB
 * FMT 15), which it parses in every RTCP packet a peer sends, negotiated or not.
 *
 * werift makes one object per packet the feedback says was received before it reads whether the
 * feedback carries their arrival deltas: one run-length chunk (2 bytes) claims up to 8,191, a
 * 24-byte packet 65,535. Measured: 11.6 ms of the thread per such packet — a guest's RTCP could
 * hold its media worker (every room on it) with ~100 packets a second. Now the chunks are walked
 * first (2 bytes each, no object) counting what werift would make; feedback claiming more received
 * packets than it has bytes left for their deltas (each takes one or two) is refused before werift
 * makes any, as malformed. Well-formed feedback parses as before.
 */
import { TransportWideCC } from 'werift';

/** Where the packet chunks begin: sender and media SSRC, base sequence, count, reference time. */
const CHUNKS_AT = 16;

/**
 * How many arrival deltas werift's parser would make for this feedback (its FCI, after the
 * RTCP header), walking the chunks as it does; null when the chunks run past the packet.
 */
export function claimedDeltas(data: Buffer): { deltas: number; deltasAt: number } | null {
  if (data.length < CHUNKS_AT) return null;
  const statusCount = data.readUInt16BE(10);
  let processed = 0;
  let deltas = 0;
  let at = CHUNKS_AT;
  while (processed < statusCount) {
    if (at + 2 > data.length) return null;
    const high = data[at]!;
    const low = data[at + 1]!;
    if ((high & 0x80) === 0) {
      // Run-length chunk: status (2 bits), run length (13 bits).
      const status = (high >> 5) & 0x3;
      const run = Math.min(statusCount - processed, ((high & 0x1f) << 8) | low);
      if (status === 1 || status === 2) deltas += run;
      processed += run;
    } else if ((high & 0x40) === 0) {
      // Status vector of 14 one-bit symbols: 1 is "received, small delta".
      const bits = ((high & 0x3f) << 8) | low;
      for (let i = 0; i < 14; i++) deltas += (bits >> i) & 1;
      processed += 14;
    } else {
      // Status vector of 7 two-bit symbols: 1 and 2 are "received".
      const bits = ((high & 0x3f) << 8) | low;
      for (let i = 0; i < 7; i++) {
        const symbol = (bits >> (2 * i)) & 0x3;
        if (symbol === 1 || symbol === 2) deltas++;
      }
      processed += 7;
    }
    at += 2;
  }
  return { deltas, deltasAt: at };
}

let installed = false;

/** Bounds werift's transport-cc parsing in this thread from now on. Idempotent. */
export function installRtcpBounds(): void {
  if (installed) return;
  installed = true;
  const parse = TransportWideCC.deSerialize.bind(TransportWideCC);
  TransportWideCC.deSerialize = (data: Buffer, header: Parameters<typeof TransportWideCC.deSerialize>[1]) => {
    const claimed = claimedDeltas(data);
    if (claimed === null) throw new Error('transport-cc feedback: its chunks run past the packet');
    if (claimed.deltas > data.length - claimed.deltasAt)
      throw new Error(
        `transport-cc feedback: ${claimed.deltas} packets received, ${data.length - claimed.deltasAt} bytes for their deltas`,
      );
    return parse(data, header);
  };
}
