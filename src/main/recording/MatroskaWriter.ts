import { open } from 'node:fs/promises';
import { APP_VERSION } from '../appInfo';
import { element, float, ID, idBytes, int, string, uint, UNKNOWN_SIZE, vint, voidElement } from './ebml';
import type { WriteBudget } from './WriteBudget';

/** Where a writer's bytes go: a file handle, or (in tests) something slower or failing. */
export interface WriterSink {
  write(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

/** Opens the sink of a new file (default: the file itself, created or emptied). */
export type OpenSink = (path: string) => Promise<WriterSink>;

export const openFileSink: OpenSink = (path) => open(path, 'w', 0o644);

/** A track of a Matroska/WebM file. Track numbers start at 1. */
export interface MatroskaTrack {
  number: number;
  kind: 'audio' | 'video';
  /** Matroska codec id: V_VP8, V_VP9, V_AV1, V_MPEG4/ISO/AVC, A_OPUS. */
  codecId: string;
  codecPrivate?: Buffer;
  width?: number;
  height?: number;
  sampleRate?: number;
  channels?: number;
  /** Opus: pre-roll after a seek, in ns. */
  seekPreRollNs?: number;
  /** Matroska CodecDelay (ns): what the decoder discards at the start (Opus pre-skip). */
  codecDelayNs?: number;
}

export interface MatroskaWriterOptions {
  /** `webm` for VP8/VP9/AV1 + Opus; `matroska` for anything else (H.264). */
  docType: 'webm' | 'matroska';
  tracks: MatroskaTrack[];
  /** Start a new cluster after this long (ms), so a crash loses at most this much. */
  clusterMs?: number;
  /** Written data is flushed to the disk (fdatasync) at most this long after it was written. */
  syncIntervalMs?: number;
  /** Bytes queued for the disk, shared by every writer of the studio. */
  budget?: WriteBudget;
  /** The first write error (ENOSPC, EIO…), as soon as it happens. */
  onError?: (error: Error) => void;
  /** Opens the file (tests inject a slow or failing one). */
  openSink?: OpenSink;
}

interface Cue {
  timeMs: number;
  track: number;
  clusterPosition: number;
}

/** Space kept at the start of the segment for the SeekHead written at finalize. */
const SEEKHEAD_RESERVE = 96;
/** A Duration element: 2-byte ID, 1-byte size, 8-byte float. */
const DURATION_BYTES = 11;

/** A SimpleBlock's header after its size: track number (1-byte vint), relative time, flags. */
const BLOCK_HEADER_BYTES = 4;

/**
 * Writes a Matroska/WebM file as media arrives. Clusters (≤ `clusterMs`, and at every video
 * keyframe) are written whole with their sizes, so the file is playable while it grows and
 * after a crash; `finalize` appends Cues and fills in Duration, the SeekHead and the Segment
 * size, so players can seek. Blocks must be given in non-decreasing time per track.
 */
export class MatroskaWriter {
  readonly path: string;
  readonly #options: MatroskaWriterOptions;
  #file: WriterSink | null = null;
  /** End of the file once everything queued is written. */
  #position = 0;
  /** End of the last whole element on disk: what readers may take, and what a failure keeps. */
  #durable = 0;
  /** Media time at the end of the last whole cluster on disk. */
  #durableTimeMs = 0;
  #lastSync = Date.now();
  #segmentDataStart = 0;
  #segmentSizeOffset = 0;
  #durationOffset = 0;
  #seekHeadOffset = 0;
  #infoPosition = 0;
  #tracksPosition = 0;
  #cluster: {
    timeMs: number;
    lastMs: number;
    /**
     * Each SimpleBlock as its head (id, size, track, time, flags) and the frame it carries, not
     * yet joined: the cluster is assembled with one copy of each frame when it is written.
     */
    blocks: Array<{ head: Buffer; data: Buffer }>;
    bytes: number;
    hasKeyframe: boolean;
  } | null = null;
  #cues: Cue[] = [];
  #queue: Promise<void> = Promise.resolve();
  #failure: Error | null = null;
  #lastTimeMs = 0;
  #firstTimeMs: number | null = null;
  #closed = false;
  readonly #videoTrack: number | null;

  private constructor(path: string, options: MatroskaWriterOptions) {
    this.path = path;
    this.#options = options;
    this.#videoTrack = options.tracks.find((t) => t.kind === 'video')?.number ?? null;
  }

  /** Creates the file and writes its header. */
  static async create(path: string, options: MatroskaWriterOptions): Promise<MatroskaWriter> {
    const writer = new MatroskaWriter(path, options);
    writer.#file = await (options.openSink ?? openFileSink)(path);
    await writer.#writeHeader();
    if (writer.#failure !== null) {
      await writer.#file.close().catch(() => {});
      writer.#file = null;
      throw writer.#failure;
    }
    return writer;
  }

  /** Milliseconds of media written (last block time). */
  get durationMs(): number {
    return this.#firstTimeMs === null ? 0 : this.#lastTimeMs;
  }

  /** Bytes on disk so far (whole elements only; queued bytes are not counted). */
  get size(): number {
    return this.#durable;
  }

  /** Bytes a reader may take while the file grows: whole clusters, never a half-written one. */
  get readableBytes(): number {
    return this.#durable;
  }

  /** The first error a write hit, if any (the recorder stops that file then). */
  get failure(): Error | null {
    return this.#failure;
  }

  /** Whether the studio's write queue is full: the recorder drops frames instead of writing. */
  get congested(): boolean {
    return this.#options.budget?.congested ?? false;
  }

  async #writeHeader(): Promise<void> {
    const { docType, tracks } = this.#options;
    const ebml = element(ID.EBML, [
      uint(ID.EBMLVersion, 1),
      uint(ID.EBMLReadVersion, 1),
      uint(ID.EBMLMaxIDLength, 4),
      uint(ID.EBMLMaxSizeLength, 8),
      string(ID.DocType, docType),
      uint(ID.DocTypeVersion, 4),
      uint(ID.DocTypeReadVersion, 2),
    ]);
    const segmentHead = Buffer.concat([idBytes(ID.Segment), UNKNOWN_SIZE]);
    this.#segmentSizeOffset = ebml.length + idBytes(ID.Segment).length;
    this.#segmentDataStart = ebml.length + segmentHead.length;
    this.#seekHeadOffset = this.#segmentDataStart;
    const reserve = voidElement(SEEKHEAD_RESERVE);

    // Info with a Void where Duration goes once it is known (a Duration of 0 would mislead players).
    const infoBody = Buffer.concat([
      uint(ID.TimestampScale, 1_000_000),
      string(ID.MuxingApp, `Spool Studio ${APP_VERSION}`),
      string(ID.WritingApp, `Spool Studio ${APP_VERSION}`),
      int(ID.DateUTC, BigInt(Date.now() - Date.UTC(2001, 0, 1)) * 1_000_000n),
    ]);
    const infoHead = Buffer.concat([idBytes(ID.Info), vint(infoBody.length + DURATION_BYTES, 8)]);
    this.#infoPosition = this.#segmentDataStart + reserve.length;
    this.#durationOffset = this.#infoPosition + infoHead.length + infoBody.length;
    const info = Buffer.concat([infoHead, infoBody, voidElement(DURATION_BYTES)]);

    const entries = tracks.map((track) => {
      const parts: Buffer[] = [
        uint(ID.TrackNumber, track.number),
        uint(ID.TrackUID, track.number),
        uint(ID.TrackType, track.kind === 'video' ? 1 : 2),
        uint(ID.FlagLacing, 0),
        string(ID.CodecID, track.codecId),
      ];
      if (track.codecPrivate) parts.push(element(ID.CodecPrivate, track.codecPrivate));
      if (track.kind === 'video') {
        parts.push(
          element(ID.Video, [
            uint(ID.PixelWidth, track.width ?? 640),
            uint(ID.PixelHeight, track.height ?? 480),
          ]),
        );
      } else {
        if (track.seekPreRollNs !== undefined) {
          parts.push(uint(ID.CodecDelay, track.codecDelayNs ?? 0), uint(ID.SeekPreRoll, track.seekPreRollNs));
        }
        parts.push(
          element(ID.Audio, [
            float(ID.SamplingFrequency, track.sampleRate ?? 48000),
            uint(ID.Channels, track.channels ?? 2),
          ]),
        );
      }
      return element(ID.TrackEntry, parts);
    });
    const tracksElement = element(ID.Tracks, entries);
    this.#tracksPosition = this.#infoPosition + info.length;
    this.#enqueue(Buffer.concat([ebml, segmentHead, reserve, info, tracksElement]));
    await this.#queue;
  }

  /**
   * Queues a write: appended at the end, or over earlier bytes at `at`. After a failure nothing
   * more is written, and the file is cut back to its last whole element.
   */
  #enqueue(data: Buffer, at?: number, clusterEndMs?: number): void {
    const append = at === undefined;
    const position = at ?? this.#position;
    if (append) this.#position += data.length;
    const budget = this.#options.budget;
    budget?.add(data.length);
    this.#queue = this.#queue.then(async () => {
      try {
        if (this.#failure !== null || this.#file === null) return;
        const halted = append ? (budget?.halted ?? null) : null;
        if (halted !== null) throw halted;
        await this.#writeFully(data, position);
        if (append) {
          this.#durable = position + data.length;
          if (clusterEndMs !== undefined) this.#durableTimeMs = clusterEndMs;
        }
        // Durable as it goes: a power cut loses at most about one sync interval.
        if (Date.now() - this.#lastSync >= (this.#options.syncIntervalMs ?? 1000)) {
          this.#lastSync = Date.now();
          await this.#file.datasync();
        }
      } catch (error) {
        await this.#fail(error as Error);
      } finally {
        budget?.release(data.length);
      }
    });
  }

  async #writeFully(data: Buffer, position: number): Promise<void> {
    let offset = 0;
    // A nearly full disk takes part of a write and refuses the rest on the next call.
    while (offset < data.length) {
      const { bytesWritten } = await this.#file!.write(data, offset, data.length - offset, position + offset);
      if (bytesWritten <= 0) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
      offset += bytesWritten;
    }
  }

  async #fail(error: Error): Promise<void> {
    if (this.#failure !== null) return;
    this.#failure = error;
    // Whatever part of an element reached the disk goes: the file ends at a whole cluster.
    await this.#file?.truncate(this.#durable).catch(() => {});
    const onError = this.#options.onError;
    if (onError) queueMicrotask(() => onError(error));
  }

  /** Adds one frame. `timeMs` is on the file's timeline (0 = its start). */
  write(track: number, timeMs: number, data: Buffer, keyframe: boolean): void {
    if (this.#closed) return;
    const time = Math.max(0, Math.round(timeMs));
    if (this.#firstTimeMs === null) this.#firstTimeMs = time;
    const isVideoKey = keyframe && track === this.#videoTrack;
    const cluster = this.#cluster;
    const clusterMs = this.#options.clusterMs ?? 1000;
    if (
      cluster === null ||
      (isVideoKey && cluster.blocks.length > 0) ||
      time - cluster.timeMs >= clusterMs ||
      time - cluster.timeMs > 32_000
    ) {
      this.#flushCluster();
      this.#cluster = { timeMs: time, lastMs: time, blocks: [], bytes: 0, hasKeyframe: false };
    }
    const current = this.#cluster!;
    const relative = Math.max(-32768, Math.min(32767, time - current.timeMs));
    const id = idBytes(ID.SimpleBlock);
    const size = vint(BLOCK_HEADER_BYTES + data.length);
    const head = Buffer.allocUnsafe(id.length + size.length + BLOCK_HEADER_BYTES);
    let at = id.copy(head, 0);
    at += size.copy(head, at);
    head[at] = 0x80 | track; // track number as a 1-byte vint
    head.writeInt16BE(relative, at + 1);
    // Every audio frame is a keyframe; the flag lets players seek to it.
    head[at + 3] = keyframe || track !== this.#videoTrack ? 0x80 : 0x00;
    if (isVideoKey && current.blocks.length === 0) current.hasKeyframe = true;
    current.blocks.push({ head, data });
    current.bytes += head.length + data.length;
    current.lastMs = Math.max(current.lastMs, time);
    this.#lastTimeMs = Math.max(this.#lastTimeMs, time);
  }

  #flushCluster(): void {
    const cluster = this.#cluster;
    if (cluster === null || cluster.blocks.length === 0) return;
    this.#cluster = null;
    const clusterPosition = this.#position - this.#segmentDataStart;
    if (cluster.hasKeyframe && this.#videoTrack !== null) {
      this.#cues.push({ timeMs: cluster.timeMs, track: this.#videoTrack, clusterPosition });
    } else if (this.#videoTrack === null) {
      this.#cues.push({ timeMs: cluster.timeMs, track: this.#options.tracks[0]!.number, clusterPosition });
    }
    const timestamp = uint(ID.Timestamp, cluster.timeMs);
    const bodyLength = timestamp.length + cluster.bytes;
    const id = idBytes(ID.Cluster);
    const size = vint(bodyLength);
    // One buffer for the whole cluster, each frame copied into it once.
    const out = Buffer.allocUnsafe(id.length + size.length + bodyLength);
    let at = id.copy(out, 0);
    at += size.copy(out, at);
    at += timestamp.copy(out, at);
    for (const block of cluster.blocks) {
      at += block.head.copy(out, at);
      at += block.data.copy(out, at);
    }
    this.#enqueue(out, undefined, cluster.lastMs);
  }

  /** Writes what is buffered (a cluster in progress) without finalizing. */
  async flush(): Promise<void> {
    this.#flushCluster();
    await this.#queue;
  }

  /**
   * Appends Cues, fills in Duration, SeekHead and Segment size, and closes the file. After a
   * write error the file keeps its whole clusters, gets the Duration and Segment size of what
   * is on disk, and `error` says what went wrong.
   */
  async finalize(): Promise<{ durationMs: number; size: number; error: Error | null }> {
    if (this.#closed) return this.#result();
    this.#flushCluster();
    this.#closed = true;
    if (this.#failure === null) this.#enqueueIndex();
    await this.#queue;
    if (this.#failure !== null) await this.#salvage();
    await this.#file?.datasync().catch(() => {});
    await this.#file?.close().catch(() => {});
    this.#file = null;
    return this.#result();
  }

  #result(): { durationMs: number; size: number; error: Error | null } {
    const failed = this.#failure !== null;
    return {
      durationMs: failed ? this.#durableTimeMs : this.durationMs,
      size: this.#durable,
      error: this.#failure,
    };
  }

  #enqueueIndex(): void {
    const cuesPosition = this.#position - this.#segmentDataStart;
    if (this.#cues.length > 0) {
      const points = this.#cues.map((cue) =>
        element(ID.CuePoint, [
          uint(ID.CueTime, cue.timeMs),
          element(ID.CueTrackPositions, [
            uint(ID.CueTrack, cue.track),
            uint(ID.CueClusterPosition, cue.clusterPosition),
          ]),
        ]),
      );
      this.#enqueue(element(ID.Cues, points));
    }
    const seek = (id: number, position: number) =>
      element(ID.Seek, [element(ID.SeekID, idBytes(id)), uint(ID.SeekPosition, position)]);
    const seekEntries = [
      seek(ID.Info, this.#infoPosition - this.#segmentDataStart),
      seek(ID.Tracks, this.#tracksPosition - this.#segmentDataStart),
    ];
    if (this.#cues.length > 0) seekEntries.push(seek(ID.Cues, cuesPosition));
    const seekHead = element(ID.SeekHead, seekEntries);
    const fill = SEEKHEAD_RESERVE - seekHead.length;
    if (fill === 0 || fill >= 2) {
      this.#enqueue(
        fill === 0 ? seekHead : Buffer.concat([seekHead, voidElement(fill)]),
        this.#seekHeadOffset,
      );
    }
    this.#enqueue(float(ID.Duration, Math.max(this.durationMs, 1)), this.#durationOffset);
    const segmentSize = this.#position - this.#segmentDataStart;
    this.#enqueue(vint(segmentSize, 8), this.#segmentSizeOffset);
  }

  /**
   * After a write error: the file already ends at its last whole cluster; Duration and the
   * Segment size are written over bytes already on disk (no new space needed), so players see
   * the right length. No Cues (they would need space).
   */
  async #salvage(): Promise<void> {
    const file = this.#file;
    if (file === null || this.#durable <= this.#tracksPosition) return;
    try {
      await file.truncate(this.#durable);
      const duration = float(ID.Duration, Math.max(this.#durableTimeMs, 1));
      await file.write(duration, 0, duration.length, this.#durationOffset);
      const size = vint(this.#durable - this.#segmentDataStart, 8);
      await file.write(size, 0, size.length, this.#segmentSizeOffset);
    } catch {
      // The clusters on disk play without these; nothing more can be done on this disk.
    }
  }

  /** Closes the file as it is (writes buffered data, no Cues): what a crash would leave. */
  async abort(): Promise<void> {
    if (this.#closed) return;
    this.#flushCluster();
    this.#closed = true;
    await this.#queue;
    await this.#file?.close().catch(() => {});
    this.#file = null;
  }
}
