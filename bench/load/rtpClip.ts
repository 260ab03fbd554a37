/**
 * Pre-packetized clips for the load generator: ffmpeg packetizes a clip to RTP once (faster
 * than real time), the packets are cached on disk, and load processes replay them from memory.
 * No ffmpeg runs per publisher during a bench, so the load costs only the peers' own work.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { vp8DescriptorLength } from '../../src/main/recording/codecs';
import { isRtcp, loopbackSocket, rtpOutputArgs, type MediaKind } from '../../test/helpers/rtpOut';

export type Kind = MediaKind;

/** One RTP packet of a clip, with when it is due relative to the start of the clip. */
export interface ClipPacket {
  kind: Kind;
  /** The RTP packet as ffmpeg made it (12-byte header, no extensions). */
  data: Buffer;
  /** RTP timestamp relative to the first packet of its kind. */
  rtpOffset: number;
  /** When the packet is due, ms from the start of the clip. */
  dueMs: number;
  /** Last packet of a video frame (the RTP marker bit). */
  frameEnd: boolean;
  /** On the last packet of a video frame: the frame's size (VP8 data without descriptors). */
  frameSize: number;
}

export interface RtpClip {
  /** Packets of both kinds, ordered by due time. */
  packets: ClipPacket[];
  /** Length of one pass through the clip, ms (the loop period). */
  durationMs: number;
  /** Video frames in one pass. */
  videoFrames: number;
}

const CLOCK: Record<Kind, number> = { audio: 48_000, video: 90_000 };
/**
 * Packetizes `clip` (a WebM with one VP8 and one Opus track) to RTP once and caches it next to
 * the clip as `<clip>.rtp`. ffmpeg reads at 8× real time into loopback UDP; a capture with a
 * sequence gap (a dropped datagram) is refused and retried slower.
 */
export async function captureRtpClip(clip: string): Promise<string> {
  const out = `${clip}.rtp`;
  if (existsSync(out)) return out;
  for (const rate of [8, 2, 1]) {
    const sockets = { video: await loopbackSocket(8 << 20), audio: await loopbackSocket(8 << 20) };
    const packets: Array<{ kind: Kind; data: Buffer }> = [];
    for (const kind of ['video', 'audio'] as const)
      sockets[kind].on('message', (data) => {
        if (!isRtcp(data)) packets.push({ kind, data });
      });
    const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-readrate', String(rate), '-i', clip];
    for (const kind of ['video', 'audio'] as const)
      args.push(...rtpOutputArgs(kind, sockets[kind].address().port));
    const ffmpeg = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    ffmpeg.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => ffmpeg.once('exit', resolve));
    await new Promise((resolve) => setTimeout(resolve, 200));
    sockets.video.close();
    sockets.audio.close();
    if (code !== 0) throw new Error(`ffmpeg could not packetize ${clip}: ${stderr}`);
    if (!hasGap(packets)) {
      const chunks: Buffer[] = [];
      for (const { kind, data } of packets) {
        const head = Buffer.alloc(3);
        head[0] = kind === 'video' ? 1 : 0;
        head.writeUInt16BE(data.length, 1);
        chunks.push(head, data);
      }
      writeFileSync(`${out}.part`, Buffer.concat(chunks));
      renameSync(`${out}.part`, out);
      return out;
    }
  }
  throw new Error(`packets were lost on loopback while packetizing ${clip}, even at real time`);
}

function hasGap(packets: Array<{ kind: Kind; data: Buffer }>): boolean {
  const last: Partial<Record<Kind, number>> = {};
  for (const { kind, data } of packets) {
    const seq = data.readUInt16BE(2);
    const prev = last[kind];
    if (prev !== undefined && seq !== ((prev + 1) & 0xffff)) return true;
    last[kind] = seq;
  }
  return last.video === undefined || last.audio === undefined;
}

/** Loads a capture made by captureRtpClip. `fps` gives the length of the last video frame. */
export function loadRtpClip(path: string, fps: number): RtpClip {
  const raw = readFileSync(path);
  const packets: ClipPacket[] = [];
  const prevTs: Partial<Record<Kind, number>> = {};
  const unwrapped: Partial<Record<Kind, number>> = {};
  let videoFrames = 0;
  let frameBytes = 0;
  for (let at = 0; at < raw.length;) {
    const kind: Kind = raw[at] === 1 ? 'video' : 'audio';
    const length = raw.readUInt16BE(at + 1);
    const data = raw.subarray(at + 3, at + 3 + length);
    at += 3 + length;
    const ts = data.readUInt32BE(4);
    // Unwrap the 32-bit timestamp (ffmpeg starts it at a random value).
    const prev = prevTs[kind];
    const step = prev === undefined ? 0 : (ts - prev) | 0;
    unwrapped[kind] = (unwrapped[kind] ?? 0) + step;
    prevTs[kind] = ts;
    const rtpOffset = unwrapped[kind]!;
    const frameEnd = kind === 'video' && (data[1]! & 0x80) !== 0;
    let frameSize = 0;
    if (kind === 'video') {
      const payload = data.subarray(rtpPayloadOffset(data));
      frameBytes += payload.length - vp8DescriptorLength(payload);
      if (frameEnd) {
        videoFrames++;
        frameSize = frameBytes;
        frameBytes = 0;
      }
    }
    packets.push({ kind, data, rtpOffset, dueMs: (rtpOffset / CLOCK[kind]) * 1000, frameEnd, frameSize });
  }
  packets.sort((a, b) => a.dueMs - b.dueMs);
  const lastDue: Record<Kind, number> = { audio: 0, video: 0 };
  for (const p of packets) lastDue[p.kind] = Math.max(lastDue[p.kind], p.dueMs);
  const durationMs = Math.max(lastDue.video + 1000 / fps, lastDue.audio + 20);
  return { packets, durationMs, videoFrames };
}

/** Clock rate of a kind's RTP timestamps. */
export const clockRate = (kind: Kind) => CLOCK[kind];

/**
 * A 32-bit fingerprint of an RTP payload (FNV-1a of its length and first 32 bytes): senders and
 * receivers compute it independently to check that a sequence number names the same packet.
 */
export function payloadHash(payload: Uint8Array): number {
  let h = 0x811c9dc5 ^ payload.length;
  const n = Math.min(32, payload.length);
  for (let i = 0; i < n; i++) h = Math.imul(h ^ payload[i]!, 0x01000193);
  return h >>> 0;
}

/** Offset of the payload in an RTP packet (after CSRCs and a header extension). */
export function rtpPayloadOffset(packet: Buffer): number {
  let offset = 12 + (packet[0]! & 0x0f) * 4;
  if ((packet[0]! & 0x10) !== 0) offset += 4 + packet.readUInt16BE(offset + 2) * 4;
  return offset;
}
