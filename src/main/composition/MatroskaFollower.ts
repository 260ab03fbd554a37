import { open, type FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';

/** One complete cluster of a growing Matroska/WebM file. */
export interface ClusterEntry {
  /** Byte offset of the Cluster element. */
  offset: number;
  /** Byte offset just past it. */
  end: number;
  /** The cluster's timestamp: ms on the file's own timeline. */
  timeMs: number;
  /** Its first block is a video keyframe (decoding can start here). */
  videoKey: boolean;
  /** Times of its first and last video frame (file ms), or null when it holds no video. */
  videoFirstMs: number | null;
  videoLastMs: number | null;
}

/** A track of the file, from its Tracks element. */
export interface FollowedTrack {
  number: number;
  kind: 'video' | 'audio';
  codecId: string;
  width: number;
  height: number;
}

const ID = {
  EBML: 0x1a45dfa3,
  Segment: 0x18538067,
  Cluster: 0x1f43b675,
  Tracks: 0x1654ae6b,
  TrackEntry: 0xae,
  TrackNumber: 0xd7,
  TrackType: 0x83,
  CodecID: 0x86,
  Video: 0xe0,
  PixelWidth: 0xb0,
  PixelHeight: 0xba,
  Timestamp: 0xe7,
  SimpleBlock: 0xa3,
  BlockGroup: 0xa0,
  Block: 0xa1,
} as const;

interface Vint {
  value: number;
  length: number;
  unknown: boolean;
}

/** An EBML element ID (marker bits kept) at `at`, or null when the buffer ends first. */
function readId(buf: Buffer, at: number): Vint | null {
  const first = buf[at];
  if (first === undefined || first === 0) return null;
  const length = Math.clz32(first) - 23;
  if (length > 4 || at + length > buf.length) return null;
  let value = 0;
  for (let i = 0; i < length; i++) value = value * 256 + buf[at + i]!;
  return { value, length, unknown: false };
}

/** An EBML size (marker bit removed); `unknown` when all value bits are set. */
function readSize(buf: Buffer, at: number): Vint | null {
  const first = buf[at];
  if (first === undefined || first === 0) return null;
  const length = Math.clz32(first) - 23;
  if (length > 8 || at + length > buf.length) return null;
  let value = first & (0xff >> length);
  let allOnes = value === 0xff >> length;
  for (let i = 1; i < length; i++) {
    const b = buf[at + i]!;
    value = value * 256 + b;
    if (b !== 0xff) allOnes = false;
  }
  return { value, length, unknown: allOnes };
}

function readUint(buf: Buffer, at: number, size: number): number {
  let value = 0;
  for (let i = 0; i < size; i++) value = value * 256 + buf[at + i]!;
  return value;
}

/**
 * Follows a Matroska/WebM file while a recorder writes it: reads its header once and then
 * only the head of each new cluster (its time and whether it starts with a video keyframe),
 * never scanning the file again. A growing file has no Cues; this index is what lets the live
 * composer hand ffmpeg the bytes of a time window (`header` + clusters) without a seek from
 * the start. The open handle keeps the file readable if the recorder renames or removes it.
 */
export class MatroskaFollower {
  readonly path: string;
  /** Bytes before the first cluster, with the Segment size set to unknown. */
  header: Buffer | null = null;
  tracks: FollowedTrack[] = [];
  readonly clusters: ClusterEntry[] = [];
  /** Wall-clock ms the index last grew. */
  grewAt = Date.now();
  #file: FileHandle;
  #position = 0;
  #videoTrack: number | null = null;
  #ended = false;
  #closed = false;

  private constructor(path: string, file: FileHandle) {
    this.path = path;
    this.#file = file;
  }

  static async open(path: string): Promise<MatroskaFollower> {
    return new MatroskaFollower(path, await open(path, 'r'));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The file carries video. */
  get hasVideo(): boolean {
    return this.tracks.some((t) => t.kind === 'video');
  }

  get hasAudio(): boolean {
    return this.tracks.some((t) => t.kind === 'audio');
  }

  async #read(at: number, length: number): Promise<Buffer> {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await this.#file.read(buf, 0, length, at);
    return buf.subarray(0, bytesRead);
  }

  /** Indexes what the recorder has written since the last call. */
  async refresh(): Promise<void> {
    if (this.#closed || this.#ended) return;
    const { size } = await this.#file.stat();
    if (this.header === null && !(await this.#readHeader(size))) return;
    const before = this.clusters.length;
    while (this.#position < size) {
      const head = await this.#read(this.#position, 48);
      const id = readId(head, 0);
      const len = id === null ? null : readSize(head, id.length);
      if (id === null || len === null) break;
      if (len.unknown) {
        // The studio's writer always writes sizes; a cluster of unknown size cannot be cut out.
        this.#ended = true;
        break;
      }
      const bodyAt = id.length + len.length;
      const end = this.#position + bodyAt + len.value;
      if (end > size) break;
      if (id.value === ID.Cluster) {
        // With video, the whole cluster (≤ 1 s) is read once for its frame times: a gap in the
        // video is then known as the offline probe knows it (its tile turns black).
        const body =
          this.#videoTrack === null ? head : await this.#read(this.#position, end - this.#position);
        const entry = this.#clusterScan(body, bodyAt, this.#position, end);
        if (entry !== null) this.clusters.push(entry);
      }
      this.#position = end;
    }
    if (this.clusters.length > before) this.grewAt = Date.now();
  }

  /** Parses the EBML header, the Segment head and the level-1 elements before the first cluster. */
  async #readHeader(size: number): Promise<boolean> {
    const probe = await this.#read(0, Math.min(size, 64 * 1024));
    const ebml = readId(probe, 0);
    const ebmlSize = ebml === null ? null : readSize(probe, ebml.length);
    if (ebml === null || ebmlSize === null || ebml.value !== ID.EBML) return false;
    let at = ebml.length + ebmlSize.length + ebmlSize.value;
    const seg = readId(probe, at);
    const segSize = seg === null ? null : readSize(probe, at + seg.length);
    if (seg === null || segSize === null || seg.value !== ID.Segment) return false;
    const segSizeAt = at + seg.length;
    // Parsed again from scratch each time until the first cluster is there.
    this.tracks = [];
    at = segSizeAt + segSize.length;
    for (;;) {
      const id = readId(probe, at);
      const len = id === null ? null : readSize(probe, at + id.length);
      if (id === null || len === null || len.unknown) return false;
      if (id.value === ID.Cluster) break;
      const bodyAt = at + id.length + len.length;
      if (bodyAt + len.value > probe.length) return false;
      if (id.value === ID.Tracks) this.#parseTracks(probe.subarray(bodyAt, bodyAt + len.value));
      at = bodyAt + len.value;
    }
    const header = Buffer.from(probe.subarray(0, at));
    // A finalized file states its Segment size; the header is reused before a subset of the
    // clusters, so it must say "unknown" (all ones, same length).
    header[segSizeAt] = 0xff >> (segSize.length - 1);
    for (let i = 1; i < segSize.length; i++) header[segSizeAt + i] = 0xff;
    this.header = header;
    this.#position = at;
    this.#videoTrack = this.tracks.find((t) => t.kind === 'video')?.number ?? null;
    return true;
  }

  #parseTracks(body: Buffer): void {
    let at = 0;
    while (at < body.length) {
      const id = readId(body, at);
      const len = id === null ? null : readSize(body, at + id.length);
      if (id === null || len === null) return;
      const bodyAt = at + id.length + len.length;
      if (id.value === ID.TrackEntry) {
        const entry = this.#children(body.subarray(bodyAt, bodyAt + len.value));
        const type = entry.get(ID.TrackType);
        const number = entry.get(ID.TrackNumber);
        const codec = entry.get(ID.CodecID);
        const video = entry.get(ID.Video);
        const dims = video ? this.#children(video) : new Map<number, Buffer>();
        if (number !== undefined && type !== undefined) {
          const t = readUint(type, 0, type.length);
          if (t === 1 || t === 2) {
            const w = dims.get(ID.PixelWidth);
            const h = dims.get(ID.PixelHeight);
            this.tracks.push({
              number: readUint(number, 0, number.length),
              kind: t === 1 ? 'video' : 'audio',
              codecId: codec?.toString('latin1') ?? '',
              width: w ? readUint(w, 0, w.length) : 0,
              height: h ? readUint(h, 0, h.length) : 0,
            });
          }
        }
      }
      at = bodyAt + len.value;
    }
  }

  #children(body: Buffer): Map<number, Buffer> {
    const out = new Map<number, Buffer>();
    let at = 0;
    while (at < body.length) {
      const id = readId(body, at);
      const len = id === null ? null : readSize(body, at + id.length);
      if (id === null || len === null) break;
      const bodyAt = at + id.length + len.length;
      out.set(id.value, body.subarray(bodyAt, bodyAt + len.value));
      at = bodyAt + len.value;
    }
    return out;
  }

  /**
   * The time and keyframe flag of a cluster from its first bytes, and the times of its first
   * and last video frame when `body` holds the whole cluster (block headers only, no payload).
   */
  #clusterScan(body: Buffer, bodyAt: number, offset: number, end: number): ClusterEntry | null {
    let at = bodyAt;
    let timeMs: number | null = null;
    let videoKey = false;
    let first = true;
    let videoFirstMs: number | null = null;
    let videoLastMs: number | null = null;
    const block = (valueAt: number, limit: number, simple: boolean) => {
      const track = readSize(body, valueAt);
      if (track === null || valueAt + track.length + 3 > limit) return;
      const video = track.value === this.#videoTrack;
      if (first) {
        const flags = body[valueAt + track.length + 2]!;
        videoKey = video && simple && (flags & 0x80) !== 0;
        first = false;
      }
      if (!video || timeMs === null) return;
      const t = timeMs + body.readInt16BE(valueAt + track.length);
      videoFirstMs = videoFirstMs === null ? t : Math.min(videoFirstMs, t);
      videoLastMs = videoLastMs === null ? t : Math.max(videoLastMs, t);
    };
    while (at < body.length) {
      const id = readId(body, at);
      const len = id === null ? null : readSize(body, at + id.length);
      if (id === null || len === null) break;
      const valueAt = at + id.length + len.length;
      if (id.value === ID.Timestamp) {
        if (valueAt + len.value > body.length) break;
        timeMs = readUint(body, valueAt, len.value);
      } else if (id.value === ID.SimpleBlock) {
        block(valueAt, Math.min(body.length, valueAt + len.value), true);
      } else if (id.value === ID.BlockGroup) {
        // The Block inside (a BlockGroup's first child in the studio's writer).
        const inner = readId(body, valueAt);
        const innerLen = inner === null ? null : readSize(body, valueAt + inner.length);
        if (inner !== null && innerLen !== null && inner.value === ID.Block) {
          block(valueAt + inner.length + innerLen.length, Math.min(body.length, valueAt + len.value), false);
        } else if (first) {
          first = false;
        }
      }
      if (first === false && this.#videoTrack === null) break;
      at = valueAt + len.value;
    }
    if (timeMs === null) return null;
    return { offset, end, timeMs, videoKey, videoFirstMs, videoLastMs };
  }

  /**
   * Gaps in the video of the clusters indexed so far (file seconds), as the offline probe sees
   * them: two frames `gapSec` or more apart. `openUntilMs`: a file still being written whose
   * last frame is that long before this time (file ms) has an open gap from its last frame on.
   */
  videoGaps(gapSec: number, openUntilMs: number | null): Array<{ from: number; to: number }> {
    const gaps: Array<{ from: number; to: number }> = [];
    let last: number | null = null;
    for (const c of this.clusters) {
      if (c.videoFirstMs === null || c.videoLastMs === null) continue;
      if (last !== null && c.videoFirstMs - last >= gapSec * 1000) {
        gaps.push({ from: last / 1000, to: c.videoFirstMs / 1000 });
      }
      last = c.videoLastMs;
    }
    if (last !== null && openUntilMs !== null && openUntilMs - last >= gapSec * 1000) {
      gaps.push({ from: last / 1000, to: Number.POSITIVE_INFINITY });
    }
    return gaps;
  }

  /**
   * Writes the header and the clusters [from, to) (indexes into `clusters`) to `out`, with
   * back-pressure. Stops quietly when the reader goes away (ffmpeg had what it needed).
   */
  async feed(out: Writable, from: number, to: number, signal?: AbortSignal): Promise<void> {
    if (this.header === null || from >= to) {
      out.end();
      return;
    }
    let broken = false;
    out.on('error', () => (broken = true));
    const write = (chunk: Buffer) =>
      new Promise<void>((resolve) => {
        if (broken || out.destroyed) return resolve();
        if (out.write(chunk)) resolve();
        else {
          const done = () => {
            out.off('drain', done);
            out.off('close', done);
            resolve();
          };
          out.once('drain', done);
          out.once('close', done);
        }
      });
    await write(this.header);
    const start = this.clusters[from]!.offset;
    const end = this.clusters[to - 1]!.end;
    const step = 256 * 1024;
    for (let at = start; at < end && !broken && !signal?.aborted && !this.#closed; at += step) {
      const chunk = await this.#read(at, Math.min(step, end - at));
      if (chunk.length === 0) break;
      await write(chunk);
    }
    if (!out.destroyed) out.end();
  }

  /** Closes the file handle. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#file.close().catch(() => {});
  }
}
