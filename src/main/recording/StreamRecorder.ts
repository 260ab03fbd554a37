import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { RtcpPacket } from 'werift';
import type { FramesDropped, ManifestTrack, RecordingFormat } from '../../shared/archive';
import type { Logger } from '../logger';
import type { MediaKind, Stream, StreamTrack } from '../rooms/Stream';
import {
  av1DecoderConfig,
  avcDecoderConfig,
  annexBToAvcc,
  depacketizerName,
  MATROSKA_CODEC_ID,
  OPUS_CODEC_DELAY_NS,
  opusHead,
  opusPacketSamples,
  videoCodecOf,
  vp8Dimensions,
  vp9Dimensions,
  type VideoCodec,
} from './codecs';
import { AudioTimeline } from './AudioTimeline';
import { MatroskaWriter, type MatroskaTrack, type OpenSink } from './MatroskaWriter';
import { StreamClock } from './StreamClock';
import { TrackPipeline, type ReceivedFrame, type TrackFrame } from './TrackPipeline';
import { countDrop, dropsSince, emptyTrackStats, type TrackStats } from './TrackStats';
import type { WriteBudget } from './WriteBudget';
import { describeWriteError } from './writeErrors';

/** A file a stream recorder wrote, relative to the archive folder. */
export interface RecordedFile {
  filename: string;
  kind: 'media' | 'split';
  size: number;
  /** ms from the archive's createdAt to the file's first frame. */
  startOffsetMs: number;
  /** ms from the archive's createdAt to the file's end. */
  stopOffsetMs: number;
  durationMs: number;
  audioCodec: string | null;
  videoCodec: string | null;
  /** Whether the container needs a remux to the archive's format at the end (H.264 → mp4). */
  container: 'webm' | 'matroska';
  /** Timing and dropped frames of each track (set when the file is finalized). */
  tracks?: Partial<Record<MediaKind, ManifestTrack>>;
  /** The write error that ended the file early (it keeps what reached the disk). */
  error?: string;
  /** Video size at the file's start and each change after (offsets as startOffsetMs). */
  resolutions?: Array<{ offsetMs: number; width: number; height: number }>;
}

export interface StreamRecorderOptions {
  stream: Stream;
  /** The archive's folder. */
  dir: string;
  /** `<streamId>` for the first segment, `<streamId>_1` for the next… */
  baseName: string;
  format: RecordingFormat;
  audio: boolean;
  video: boolean;
  /** Split output: a new file every `durationSec` (at a keyframe); `only`: no whole file. */
  split?: { durationSec: number; only: boolean };
  /** The archive's createdAt (ms): file offsets are relative to it. */
  archiveStartMs: number;
  keyframeIntervalSec: number;
  logger: Logger;
  /** A file was opened (its first frame is written): record it so a crash can recover it. */
  onFileStarted?: (file: RecordedFile) => void;
  /** A file could not be written (disk full, I/O error): the archive should stop. */
  onWriteError?: (error: Error) => void;
  /** The studio's write queue (bytes waiting for the disk). */
  budget?: WriteBudget;
  /** Opens files (tests inject a slow disk). */
  openSink?: OpenSink;
  /** A file was finalized (split files while recording, the rest at stop): per-file events. */
  onFileFinished?: (file: RecordedFile) => void;
}

/** What a video keyframe says about its track: codec private data and size. */
type VideoConfig = Pick<MatroskaTrack, 'codecPrivate' | 'width' | 'height'>;

/**
 * How long frames wait to be interleaved across tracks (in time order) before writing (network
 * jitter; while a track confirms a pause, up to CONFIRM_MAX_MS more). Frames later than this are
 * dropped and counted (`framesDropped.late`), never re-timed.
 */
const INTERLEAVE_MS = 1000;
/**
 * How far behind the other tracks one that is still arriving may fall before they are written
 * without it (ms): after a sender's stall its backlog comes at once, one track's faster than the
 * other's, and the tracks are interleaved as they catch up (`#caughtUp`). Bounds what waits.
 */
const BACKLOG_MAX_MS = 30_000;
/** How much later than its first sample a sender reports an audio packet (one 20 ms Opus packet). */
const AUDIO_REPORT_DELAY_MS = 20;
/** How long to wait for a video keyframe before starting a file without video. */
const VIDEO_WAIT_MS = 8000;

interface OpenFile {
  writer: MatroskaWriter;
  filename: string;
  kind: 'media' | 'split';
  startTime: number;
  lastTime: number;
  lastByKind: Map<MediaKind, number>;
  info: RecordedFile;
  tracks: Map<MediaKind, number>;
  /** Tracks dropping frames for backpressure until their next keyframe. */
  dropping: Set<MediaKind>;
  /**
   * The video track waits for a keyframe: at the file's start, and after a video frame was not
   * written (late). Frames that depend on one not in the file are not written either (a decoder
   * refuses them), and counted as broken.
   */
  needsKeyframe: boolean;
  /** Counters when the file opened: its report is the difference at close. */
  opened: Map<MediaKind, { drops: TrackStats['framesDropped']; inserted: number; removed: number }>;
}

/**
 * Records one segment of one stream: a pipeline per track, an interleaver that writes frames
 * of all tracks in time order, and the Matroska/WebM writers (the whole file and, with split
 * output, the split files). Nothing is transcoded.
 */
export class StreamRecorder {
  readonly #options: StreamRecorderOptions;
  readonly #pipelines = new Map<
    MediaKind,
    { pipeline: TrackPipeline; unsubscribe: () => void; codec: string; clockRate: number }
  >();
  readonly #queue: TrackFrame[] = [];
  readonly #files: RecordedFile[] = [];
  #main: OpenFile | null = null;
  #split: OpenFile | null = null;
  #splitIndex = 0;
  #splitCutPending = false;
  #videoConfig: Pick<MatroskaTrack, 'codecPrivate' | 'width' | 'height'> | null = null;
  /** Video sizes seen on keyframes, each when it changed. */
  readonly #sizes: Array<{ timeMs: number; width: number; height: number }> = [];
  /** Sizes of keyframes on their way through the stream clock (noted with their time). */
  readonly #keyframeSizes = new WeakMap<ReceivedFrame, VideoConfig>();
  #videoCodec: VideoCodec | null = null;
  #firstFrameAt: number | null = null;
  /** A video keyframe is in the queue (timed): a file with video starts no later than it. */
  #keyframeQueued = false;
  #timer: NodeJS.Timeout;
  #keyframeTimer: NodeJS.Timeout;
  /** Times frames (docs/recording-timing.md); audio is then placed on a continuous timeline. */
  readonly #clock: StreamClock<ReceivedFrame>;
  readonly #audio = new AudioTimeline();
  /** Time up to which the files have been written (ms, recorder clock). */
  #writtenUntil = -Infinity;
  /** Time of the latest video frame queued. */
  #videoQueuedUntil = -Infinity;
  /** Each track's latest frame timed by the clock: its time, and when it arrived (ms). */
  readonly #timedUntil = new Map<MediaKind, { timeMs: number; arrivalMs: number }>();
  /** When the latest frame came more than INTERLEAVE_MS after its time (a sender's backlog). */
  #backlogAt = -Infinity;
  #unsubscribers: Array<() => void> = [];
  #bytesReceived = 0;
  /** Writing is serialized: ticks, split rotation and stop never interleave. */
  #work: Promise<void> = Promise.resolve();
  /** A tick's write is still running: the next tick does not queue another. */
  #flushing = false;
  #writeError: Error | null = null;
  #stopped = false;

  constructor(options: StreamRecorderOptions) {
    this.#options = options;
    this.#clock = new StreamClock<ReceivedFrame>(
      (kind, frame, timeMs) => this.#onTimed(kind, frame, timeMs),
      options.archiveStartMs,
    );
    const { stream } = options;
    for (const track of stream.tracks.values()) this.#attach(track);
    const onTrack = (track: StreamTrack) => this.#attach(track);
    stream.on('track', onTrack);
    this.#unsubscribers.push(() => stream.off('track', onTrack));
    this.#timer = setInterval(() => this.#tick(), 100);
    this.#keyframeTimer = setInterval(() => stream.requestKeyframe(), options.keyframeIntervalSec * 1000);
    stream.requestKeyframe();
  }

  get streamId(): string {
    return this.#options.stream.id;
  }

  /** Bytes of RTP payload received for this recording. */
  get bytesReceived(): number {
    return this.#bytesReceived;
  }

  /** Bytes of a file being written that readers may take (whole clusters), or null if not ours. */
  readableBytes(filename: string): number | null {
    for (const file of [this.#main, this.#split]) {
      if (file !== null && file.filename === filename) return file.writer.readableBytes;
    }
    return null;
  }

  /** Readable bytes of each file being written now (a media worker reports them to the main thread). */
  readableFiles(): Record<string, number> {
    const files: Record<string, number> = {};
    for (const file of [this.#main, this.#split])
      if (file !== null) files[file.filename] = file.writer.readableBytes;
    return files;
  }

  /** Bytes written to the whole file (or the splits). */
  get bytesWritten(): number {
    return (
      (this.#main?.writer.size ?? 0) +
      (this.#split?.writer.size ?? 0) +
      this.#files.reduce((n, f) => n + f.size, 0)
    );
  }

  get stats(): Partial<Record<MediaKind, TrackStats>> {
    const stats: Partial<Record<MediaKind, TrackStats>> = {};
    for (const [kind, p] of this.#pipelines) stats[kind] = p.pipeline.stats;
    return stats;
  }

  #statsOf(kind: MediaKind): TrackStats {
    return this.#pipelines.get(kind)?.pipeline.stats ?? emptyTrackStats();
  }

  #wants(kind: MediaKind): boolean {
    return kind === 'audio'
      ? this.#options.audio && this.#options.stream.hasAudio
      : this.#options.video && this.#options.stream.hasVideo;
  }

  #attach(track: StreamTrack): void {
    if (this.#stopped || this.#pipelines.has(track.kind) || !this.#wants(track.kind)) return;
    const codec = track.track.codec;
    const name = codec ? depacketizerName(codec.mimeType) : null;
    if (codec === undefined || name === null) {
      this.#options.logger.warn({ mime: codec?.mimeType }, 'cannot record this codec');
      return;
    }
    if (track.kind === 'video') this.#videoCodec = videoCodecOf(codec.mimeType);
    const pipeline = new TrackPipeline({
      kind: track.kind,
      codec: name,
      clockRate: codec.clockRate,
      onFrame: (frame) => this.#onReceived(frame),
      onNeedKeyframe: () => this.#options.stream.requestKeyframe(),
    });
    this.#clock.addTrack(track.kind, codec.clockRate);
    const rtp = track.track.onReceiveRtp.subscribe((packet) => {
      this.#bytesReceived += packet.payload.length;
      pipeline.push(packet);
    });
    const rtcp = this.#options.stream.onRtcp(track.kind, (packet) => this.#onRtcp(track.kind, packet));
    this.#pipelines.set(track.kind, {
      pipeline,
      codec: codec.mimeType,
      clockRate: codec.clockRate,
      unsubscribe: () => {
        rtp.unSubscribe();
        rtcp();
      },
    });
  }

  /** Sender reports map each track's RTP clock to the sender's wall clock (the StreamClock uses them). */
  #onRtcp(kind: MediaKind, packet: RtcpPacket): void {
    if (packet.type !== 200) return;
    const pipeline = this.#pipelines.get(kind)?.pipeline;
    if (pipeline === undefined) return;
    const { ntpTimestamp, rtpTimestamp } = (
      packet as { senderInfo: { ntpTimestamp: bigint; rtpTimestamp: number } }
    ).senderInfo;
    let ntpMs = Number(ntpTimestamp >> 32n) * 1000 + (Number(ntpTimestamp & 0xffffffffn) / 2 ** 32) * 1000;
    // libwebrtc (Chrome, Firefox, native apps) stamps an audio packet's report time when the packet
    // is sent, once its 20 ms have been captured, not when its first sample was: its reports put
    // audio one packet late. Video reports carry the capture time.
    if (kind === 'audio') ntpMs -= AUDIO_REPORT_DELAY_MS;
    this.#clock.senderReport(kind, pipeline.extendTimestamp(rtpTimestamp), ntpMs);
  }

  #onReceived(frame: ReceivedFrame): void {
    if (this.#stopped || this.#writeError !== null) return;
    if (frame.kind === 'video' && frame.keyframe && this.#videoConfig === null)
      this.#videoConfig = this.#configOf(frame.data);
    // The size is read from the keyframe as sent; it is noted once the frame has its time.
    const size = frame.kind === 'video' && frame.keyframe ? this.#configOf(frame.data) : null;
    if (frame.kind === 'video' && this.#videoCodec === 'H264')
      frame = { ...frame, data: annexBToAvcc(frame.data) };
    if (size !== null) this.#keyframeSizes.set(frame, size);
    this.#firstFrameAt ??= Date.now();
    // An audio packet leaves its sender once its last sample is captured: its first sample is
    // that much older (the same as AUDIO_REPORT_DELAY_MS for sender reports).
    const arrival =
      frame.kind === 'audio'
        ? frame.arrivalMs - (opusPacketSamples(frame.data) ?? 960) / 48
        : frame.arrivalMs;
    this.#clock.push(frame.kind, frame.rtpTimestamp, arrival, frame);
  }

  /** A frame timed by the stream clock: audio is placed on its continuous timeline first. */
  #onTimed(kind: MediaKind, frame: ReceivedFrame, timeMs: number): void {
    if (frame.arrivalMs - timeMs > INTERLEAVE_MS) this.#backlogAt = frame.arrivalMs;
    const timed = this.#timedUntil.get(kind);
    if (timed === undefined) this.#timedUntil.set(kind, { timeMs, arrivalMs: frame.arrivalMs });
    else {
      timed.timeMs = Math.max(timed.timeMs, timeMs);
      timed.arrivalMs = frame.arrivalMs;
    }
    if (kind === 'video') {
      const size = this.#keyframeSizes.get(frame);
      if (size !== undefined) this.#noteSize(size, timeMs);
      this.#videoQueuedUntil = Math.max(this.#videoQueuedUntil, timeMs);
      if (frame.keyframe) this.#keyframeQueued = true;
      this.#enqueue({ kind, timeMs, data: frame.data, keyframe: frame.keyframe });
      return;
    }
    const late = this.#audio.late;
    for (const placed of this.#audio.place(timeMs, frame.data))
      this.#enqueue({ kind, timeMs: placed.timeMs, data: placed.data, keyframe: true });
    if (this.#audio.late > late) {
      countDrop(this.#statsOf('audio'), 'late');
    }
  }

  #enqueue(frame: TrackFrame): void {
    // Insert in time order (frames of one track already come in order).
    let i = this.#queue.length;
    while (i > 0 && this.#queue[i - 1]!.timeMs > frame.timeMs) i--;
    this.#queue.splice(i, 0, frame);
  }

  /** Keeps the video size of each keyframe when it changes (for the files' metadata). */
  #noteSize(size: VideoConfig | null, timeMs: number): void {
    if (size?.width === undefined || size.height === undefined) return;
    const last = this.#sizes.at(-1);
    if (last !== undefined && last.width === size.width && last.height === size.height) return;
    this.#sizes.push({ timeMs, width: size.width, height: size.height });
  }

  /** The sizes in effect during [from, to] (ms, recorder time), as file metadata offsets. */
  #sizesBetween(from: number, to: number): RecordedFile['resolutions'] {
    const before = this.#sizes.filter((s) => s.timeMs <= from).at(-1);
    const during = this.#sizes.filter((s) => s.timeMs > from && s.timeMs <= to);
    // The first size counts from the file's start (a file's video begins with a keyframe).
    const sizes = before ? [before, ...during] : during;
    return sizes
      .map((s, i) => ({ ...s, timeMs: i === 0 ? from : s.timeMs }))
      .map((s) => ({
        offsetMs: Math.max(0, Math.round(s.timeMs - this.#options.archiveStartMs)),
        width: s.width,
        height: s.height,
      }));
  }

  #configOf(frame: Buffer): VideoConfig | null {
    switch (this.#videoCodec) {
      case 'VP8':
        return vp8Dimensions(frame);
      case 'VP9':
        return vp9Dimensions(frame);
      case 'H264': {
        const config = avcDecoderConfig(frame);
        return config && { codecPrivate: config.config, width: config.width, height: config.height };
      }
      case 'AV1': {
        const config = av1DecoderConfig(frame);
        return config && { codecPrivate: config.config, width: config.width, height: config.height };
      }
      default:
        return null;
    }
  }

  #tick(): void {
    for (const { pipeline } of this.#pipelines.values()) pipeline.tick();
    const now = Date.now();
    this.#clock.tick(now);
    // While a track holds frames to confirm a pause, the interleaver's clock stops where it was
    // when they came: they may belong before anything newer.
    const held = this.#clock.heldSince;
    const until = Math.min(Math.min(now, held ?? now) - INTERLEAVE_MS, this.#caughtUp(now));
    // Audio that has not come by now never will in time: while video goes on, the audio timeline
    // goes on with silence, so the file's audio stays continuous through a mute (and a late frame
    // is dropped, not re-timed). With nothing else going on, a gap is filled when audio resumes.
    if (this.#audio.cursor !== null) {
      for (const placed of this.#audio.fillThrough(Math.min(until, this.#videoQueuedUntil)))
        this.#enqueue({ kind: 'audio', ...placed, keyframe: true });
    }
    // A slow disk must not pile up ticks: one flush at a time, the next picks up what waits.
    if (this.#flushing) return;
    this.#flushing = true;
    void this.#serial(() => this.#flush(until)).finally(() => {
      this.#flushing = false;
    });
  }

  /**
   * Up to when every track still arriving has been timed (ms). A sender that stalled (its process
   * busy, its network buffering) delivers seconds of media at once, each track at its own pace —
   * libwebrtc sends audio first, and two sockets drain unevenly — so the frames are older than
   * INTERLEAVE_MS as they come: written as they came, the track ahead would make the other's
   * frames late (dropped). A track is waited for while its frames keep arriving, and while any
   * track's backlog arrives (the other tracks' may follow); one quiet for INTERLEAVE_MS besides
   * (paused, muted) is not, nor any for more than BACKLOG_MAX_MS.
   */
  #caughtUp(now: number): number {
    let until = Infinity;
    for (const timed of this.#timedUntil.values())
      if (now - Math.max(timed.arrivalMs, this.#backlogAt) < INTERLEAVE_MS)
        until = Math.min(until, timed.timeMs);
    return Math.max(until, now - BACKLOG_MAX_MS);
  }

  #serial(task: () => Promise<void>): Promise<void> {
    this.#work = this.#work.then(task).catch((error: unknown) => {
      this.#options.logger.error({ err: error, streamId: this.streamId }, 'recording write failed');
      this.#onWriteError(error as Error);
    });
    return this.#work;
  }

  #onWriteError(error: Error): void {
    if (this.#writeError !== null) return;
    this.#writeError = error;
    this.#options.onWriteError?.(error);
  }

  /** Frames each track lost so far, by reason. */
  get framesDropped(): Partial<Record<MediaKind, FramesDropped>> {
    const total: Partial<Record<MediaKind, FramesDropped>> = {};
    for (const kind of this.#pipelines.keys()) total[kind] = { ...this.#statsOf(kind).framesDropped };
    return total;
  }

  /** Writes queued frames up to `until` (ms), once the file can be started. */
  async #flush(until: number): Promise<void> {
    if (this.#queue.length === 0 || this.#writeError !== null) return;
    if (this.#main === null && this.#split === null) {
      if (!this.#readyToStart()) return;
      await this.#openFiles();
    }
    while (this.#queue.length > 0 && this.#queue[0]!.timeMs <= until) {
      await this.#write(this.#queue.shift()!);
    }
  }

  #readyToStart(): boolean {
    const videoExpected = this.#pipelines.has('video');
    if (!videoExpected) return true;
    // Known as the keyframe arrives, but the keyframe is queued once the stream clock has timed it
    // (a track's first frames wait to choose its anchor): a file opened before then would start
    // after it, its video with frames that depend on it.
    if (this.#videoConfig !== null && this.#keyframeQueued) return true;
    return this.#firstFrameAt !== null && Date.now() - this.#firstFrameAt > VIDEO_WAIT_MS;
  }

  #trackSpecs(): { tracks: MatroskaTrack[]; kinds: Map<MediaKind, number>; container: 'webm' | 'matroska' } {
    const tracks: MatroskaTrack[] = [];
    const kinds = new Map<MediaKind, number>();
    const videoCodec = this.#videoCodec;
    // H.264 needs its SPS/PPS in the header; without a keyframe yet, the file goes without video.
    const videoUsable =
      this.#pipelines.has('video') &&
      videoCodec !== null &&
      (this.#videoConfig !== null || videoCodec !== 'H264');
    if (videoUsable) {
      tracks.push({
        number: tracks.length + 1,
        kind: 'video',
        codecId: MATROSKA_CODEC_ID[videoCodec],
        ...(this.#videoConfig ?? {}),
      });
      kinds.set('video', tracks.length);
    }
    if (this.#pipelines.has('audio')) {
      tracks.push({
        number: tracks.length + 1,
        kind: 'audio',
        codecId: 'A_OPUS',
        codecPrivate: opusHead(),
        sampleRate: 48000,
        channels: 2,
        seekPreRollNs: 80_000_000,
        codecDelayNs: OPUS_CODEC_DELAY_NS,
      });
      kinds.set('audio', tracks.length);
    }
    return { tracks, kinds, container: videoCodec === 'H264' && videoUsable ? 'matroska' : 'webm' };
  }

  async #openFiles(): Promise<void> {
    const first = this.#queue[0]!;
    if (!this.#options.split?.only)
      this.#main = await this.#open('media', this.#options.baseName, first.timeMs);
    if (this.#options.split) {
      this.#splitIndex = 1;
      this.#split = await this.#open('split', this.#splitName(1), first.timeMs);
    }
    // Frames queued while the files opened may be timed before their start (a track's first
    // frames wait to choose its anchor): they are not in the files (dropped as late), never
    // written at a negative time (that is, with the same time 0 as the first).
    this.#writtenUntil = Math.max(this.#writtenUntil, first.timeMs);
  }

  #splitName(index: number): string {
    return join('split', `${this.#options.baseName}_${String(index).padStart(4, '0')}`);
  }

  async #open(kind: 'media' | 'split', base: string, startTime: number): Promise<OpenFile> {
    const { tracks, kinds, container } = this.#trackSpecs();
    const filename = `${base}.${container === 'webm' ? 'webm' : 'mkv'}`;
    if (kind === 'split') mkdirSync(join(this.#options.dir, 'split'), { recursive: true });
    const writer = await MatroskaWriter.create(join(this.#options.dir, filename), {
      docType: container,
      tracks,
      ...(this.#options.budget ? { budget: this.#options.budget } : {}),
      ...(this.#options.openSink ? { openSink: this.#options.openSink } : {}),
      onError: (error) => {
        this.#options.logger.error({ err: error, file: filename }, 'recording file write failed');
        this.#onWriteError(error);
      },
    });
    const startOffsetMs = Math.max(0, Math.round(startTime - this.#options.archiveStartMs));
    const info: RecordedFile = {
      filename,
      kind,
      size: 0,
      startOffsetMs,
      stopOffsetMs: startOffsetMs,
      durationMs: 0,
      audioCodec: kinds.has('audio') ? 'opus' : null,
      videoCodec: kinds.has('video') ? (this.#videoCodec ?? null) : null,
      container,
    };
    this.#options.onFileStarted?.(info);
    return {
      writer,
      filename,
      kind,
      startTime,
      lastTime: startTime,
      lastByKind: new Map(),
      info,
      tracks: kinds,
      dropping: new Set(),
      needsKeyframe: kinds.has('video'),
      opened: new Map(
        [...kinds.keys()].map((k) => [
          k,
          {
            drops: { ...this.#statsOf(k).framesDropped },
            inserted: this.#audio.inserted,
            removed: this.#audio.removed,
          },
        ]),
      ),
    };
  }

  async #write(frame: TrackFrame): Promise<void> {
    // Written past its time (it came later than the interleaving waits): dropped, never re-timed.
    if (frame.timeMs < this.#writtenUntil) {
      countDrop(this.#statsOf(frame.kind), 'late');
      if (frame.kind === 'video') for (const file of [this.#main, this.#split]) this.#awaitKeyframe(file);
      return;
    }
    this.#writtenUntil = frame.timeMs;
    const split = this.#options.split;
    if (split && this.#split !== null) {
      const boundary = this.#split.startTime + split.durationSec * 1000;
      if (frame.timeMs >= boundary && !this.#splitCutPending) {
        this.#splitCutPending = true;
        this.#options.stream.requestKeyframe();
      }
      const hasVideo = this.#split.tracks.has('video');
      const canCut = !hasVideo || (frame.kind === 'video' && frame.keyframe);
      if (this.#splitCutPending && canCut) {
        this.#splitCutPending = false;
        const done = this.#split;
        this.#split = await this.#open('split', this.#splitName(++this.#splitIndex), frame.timeMs);
        await this.#close(done);
      }
    }
    for (const file of [this.#main, this.#split]) {
      if (file === null) continue;
      const track = file.tracks.get(frame.kind);
      if (track === undefined || file.writer.failure !== null) continue;
      // The disk cannot keep up: drop whole frames up to the next keyframe, never part of one.
      if (file.writer.congested || (file.dropping.has(frame.kind) && !frame.keyframe)) {
        file.dropping.add(frame.kind);
        if (file === this.#main || this.#main === null) countDrop(this.#statsOf(frame.kind), 'backpressure');
        continue;
      }
      file.dropping.delete(frame.kind);
      const counts = file === this.#main || this.#main === null;
      if (frame.kind === 'video' && file.needsKeyframe) {
        if (!frame.keyframe) {
          if (counts) countDrop(this.#statsOf('video'), 'broken');
          continue;
        }
        file.needsKeyframe = false;
      }
      // Each track's times strictly increase on the file's millisecond timeline.
      const time = Math.round(frame.timeMs - file.startTime);
      if (time <= (file.lastByKind.get(frame.kind) ?? -Infinity)) {
        if (counts) countDrop(this.#statsOf(frame.kind), 'late');
        if (frame.kind === 'video') this.#awaitKeyframe(file);
        continue;
      }
      file.lastTime = frame.timeMs;
      file.lastByKind.set(frame.kind, time);
      file.writer.write(track, time, frame.data, frame.keyframe);
    }
  }

  /** A video frame was not written to a file: its next frames wait for a keyframe (asked for). */
  #awaitKeyframe(file: OpenFile | null): void {
    if (file === null || !file.tracks.has('video') || file.needsKeyframe) return;
    file.needsKeyframe = true;
    this.#options.stream.requestKeyframe();
  }

  async #close(file: OpenFile): Promise<void> {
    const { durationMs, size, error } = await file.writer.finalize();
    const info: RecordedFile = {
      ...file.info,
      size,
      durationMs,
      stopOffsetMs: file.info.startOffsetMs + durationMs,
      tracks: this.#trackReports(file, durationMs),
      ...(error !== null ? { error: describeWriteError(error) } : {}),
      ...(file.tracks.has('video') ? { resolutions: this.#sizesBetween(file.startTime, file.lastTime) } : {}),
    };
    this.#files.push(info);
    this.#options.onFileFinished?.(info);
  }

  /** What the manifest says of each track of a file: timing, corrections, dropped frames. */
  #trackReports(file: OpenFile, durationMs: number): Partial<Record<MediaKind, ManifestTrack>> {
    const reports: Partial<Record<MediaKind, ManifestTrack>> = {};
    for (const [kind, opened] of file.opened) {
      const timing = this.#clock.timing(kind);
      if (timing === null) continue;
      timing.pauses = timing.pauses
        .map((p) => ({ at: Math.round(p.at - file.startTime), length: p.length }))
        .filter((p) => p.at + p.length > 0 && p.at <= durationMs);
      if (kind === 'audio') {
        timing.framesInserted = this.#audio.inserted - opened.inserted;
        timing.framesRemoved = this.#audio.removed - opened.removed;
      }
      reports[kind] = { timing, framesDropped: dropsSince(this.#statsOf(kind), opened.drops) };
    }
    return reports;
  }

  /** Writes everything received and finalizes the files; returns them. */
  async stop(): Promise<RecordedFile[]> {
    if (this.#stopped) {
      await this.#work;
      return this.#files;
    }
    // Frames still held by the pipelines and the clock are part of the recording.
    for (const { pipeline } of this.#pipelines.values()) pipeline.flush();
    this.#clock.flush();
    this.#stopped = true;
    clearInterval(this.#timer);
    clearInterval(this.#keyframeTimer);
    for (const unsubscribe of this.#unsubscribers) unsubscribe();
    for (const { pipeline, unsubscribe } of this.#pipelines.values()) {
      unsubscribe();
      pipeline.close();
    }
    await this.#serial(async () => {
      try {
        if (this.#writeError === null) {
          if (this.#queue.length > 0 && this.#main === null && this.#split === null) await this.#openFiles();
          while (this.#queue.length > 0) await this.#write(this.#queue.shift()!);
        }
      } finally {
        this.#queue.length = 0;
        // Each file is finalized even when the other one (or the last writes) failed.
        const main = this.#main;
        const split = this.#split;
        this.#main = null;
        this.#split = null;
        if (main !== null) await this.#close(main);
        if (split !== null) await this.#close(split);
      }
    });
    return this.#files;
  }

  /** Stops without finalizing, as a crash would (tests of recovery). */
  async abort(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    clearInterval(this.#keyframeTimer);
    for (const { pipeline, unsubscribe } of this.#pipelines.values()) {
      unsubscribe();
      pipeline.close();
    }
    await this.#work;
    await this.#main?.writer.abort();
    await this.#split?.writer.abort();
  }
}
