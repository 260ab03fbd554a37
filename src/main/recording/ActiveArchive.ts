import type { ArchiveJson, ArchiveStream, FramesDropped } from '../../shared/archive';
import type { LiveRoom } from '../rooms/LiveRoom';
import type { Stream } from '../rooms/Stream';
import type { ArchiveRecord } from '../store/ArchiveRepository';
import type { Recorder } from './WorkerRecorder';

/**
 * The live state of one archive being recorded: its stream recorders, the streams chosen in
 * manual mode, and the clocks of recorded and idle time the limits are checked against.
 */
export class ActiveArchive {
  record: ArchiveRecord;
  readonly room: LiveRoom;
  readonly dir: string;
  readonly recorders = new Map<string, Recorder>();
  /** Next segment number of each stream (`<id>.webm`, `<id>_1.webm`, …). */
  readonly segments = new Map<string, number>();
  /** Segments being finalized (a stream left, a selection changed): a stop awaits them all. */
  readonly finishing = new Set<Promise<void>>();
  /** What went wrong writing a file ("disk full"): the archive ends `failed`, never `available`. */
  writeError: string | null = null;
  /** Why the archive was stopped as a failure without a write error (the disk reached its floor). */
  failureDetail: string | null = null;
  /** Frames dropped by the stream segments that already ended (the live ones count their own). */
  readonly droppedEnded: FramesDropped = { late: 0, broken: 0, backpressure: 0, oversized: 0 };
  /** Manual stream mode: the streams added, with what of them to record. */
  readonly selected = new Map<string, ArchiveStream>();
  /** When the archive's first recorder was made: recording effectively began then (OpenTok's createdAt). */
  firstRecorderAt: number | null = null;
  /** Recorded time before the current started period (ms). */
  #recordedMs = 0;
  #startedAt: number | null = null;
  #pausedAt: number | null = null;
  /** Auto archives: a successor was started for the rollover. */
  rolledOver = false;
  /** Stop was requested: no new streams, not shown as recording. */
  ended = false;
  stopping: Promise<ArchiveJson> | null = null;

  constructor(record: ArchiveRecord, room: LiveRoom, dir: string) {
    this.record = record;
    this.room = room;
    this.dir = dir;
  }

  get id(): string {
    return this.record.id;
  }

  /** Recorded time: only while streams were recorded (the 4 h limit counts this). */
  recordedMs(now = Date.now()): number {
    return this.#recordedMs + (this.#startedAt === null ? 0 : now - this.#startedAt);
  }

  /** Time since the archive has had nothing to record, or 0 while it records. */
  idleMs(now = Date.now()): number {
    return this.#pausedAt === null ? 0 : now - this.#pausedAt;
  }

  totalMs(now = Date.now()): number {
    return now - this.record.createdAt;
  }

  get paused(): boolean {
    return this.#startedAt === null;
  }

  markStarted(now = Date.now()): void {
    if (this.#startedAt !== null) return;
    this.#startedAt = now;
    this.#pausedAt = null;
  }

  markPaused(now = Date.now()): void {
    if (this.#startedAt !== null) this.#recordedMs += now - this.#startedAt;
    this.#startedAt = null;
    this.#pausedAt ??= now;
  }

  /** Whether a stream is recorded by this archive, and which of its tracks. */
  selection(stream: Stream): ArchiveStream | null {
    if (stream.recordingBlock) return null;
    const audio = this.record.hasAudio && stream.hasAudio;
    const video = this.record.hasVideo && stream.hasVideo;
    if (this.record.streamMode === 'manual') {
      const chosen = this.selected.get(stream.id);
      if (chosen === undefined) return null;
      const pick = {
        streamId: stream.id,
        hasAudio: audio && chosen.hasAudio,
        hasVideo: video && chosen.hasVideo,
      };
      return pick.hasAudio || pick.hasVideo ? pick : null;
    }
    return audio || video ? { streamId: stream.id, hasAudio: audio, hasVideo: video } : null;
  }
}
