import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { RtcpPacket } from 'werift';
import type { RecordingFormat } from '../../shared/archive';
import type { Logger } from '../logger';
import type { MediaKind, Stream, StreamTrack } from '../rooms/Stream';
import {
  av1DecoderConfig,
  avcDecoderConfig,
  annexBToAvcc,
  depacketizerName,
  MATROSKA_CODEC_ID,
  opusHead,
  videoCodecOf,
  vp8Dimensions,
  vp9Dimensions,
  type VideoCodec,
} from './codecs';
import { MatroskaWriter, type MatroskaTrack } from './MatroskaWriter';
import { TrackPipeline, type TrackFrame, type TrackStats } from './TrackPipeline';

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
  /** A file was finalized (split files while recording, the rest at stop): per-file events. */
  onFileFinished?: (file: RecordedFile) => void;
}

/** How long frames wait to be interleaved across tracks (in time order) before writing. */
const INTERLEAVE_MS = 400;
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
  #videoCodec: VideoCodec | null = null;
  #firstFrameAt: number | null = null;
  #timer: NodeJS.Timeout;
  #keyframeTimer: NodeJS.Timeout;
  #senderReports = new Map<
    MediaKind,
    { ntpMs: number; rtp: number; offset: number; bad: boolean; trusted: boolean }
  >();
  #lipSyncApplied = false;
  #unsubscribers: Array<() => void> = [];
  #bytesReceived = 0;
  /** Writing is serialized: ticks, split rotation and stop never interleave. */
  #work: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(options: StreamRecorderOptions) {
    this.#options = options;
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
      onFrame: (frame) => this.#onFrame(frame),
      onNeedKeyframe: () => this.#options.stream.requestKeyframe(),
    });
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

  /**
   * Sender reports map each track's RTP clock to the sender's wall clock. Once both tracks have
   * trustworthy ones, the video times are shifted so audio and video keep the sender's
   * alignment (first-packet arrival times carry encoder and network delays). Reports that are
   * not self-consistent, or that disagree wildly with the arrival times, are ignored: some
   * senders (relays, simple WHIP clients) do not map their clocks correctly.
   */
  #onRtcp(kind: MediaKind, packet: RtcpPacket): void {
    if (packet.type !== 200) return;
    const pipeline = this.#pipelines.get(kind)?.pipeline;
    const clockRate = this.#pipelines.get(kind)?.clockRate;
    if (pipeline === undefined || clockRate === undefined) return;
    const { ntpTimestamp, rtpTimestamp } = (
      packet as { senderInfo: { ntpTimestamp: bigint; rtpTimestamp: number } }
    ).senderInfo;
    const ntpMs = Number(ntpTimestamp >> 32n) * 1000 + (Number(ntpTimestamp & 0xffffffffn) / 2 ** 32) * 1000;
    const rtp = pipeline.extendTimestamp(rtpTimestamp);
    const offset = pipeline.timeOf(rtp) - pipeline.offsetMs - ntpMs;
    const previous = this.#senderReports.get(kind);
    // A sender is trusted from its second consistent report on, until one is inconsistent.
    let bad = previous?.bad ?? false;
    if (previous !== undefined) {
      const clockDrift = ntpMs - previous.ntpMs - ((rtp - previous.rtp) * 1000) / clockRate;
      if (Math.abs(clockDrift) >= 20 || Math.abs(offset - previous.offset) >= 50) bad = true;
    }
    const report = { ntpMs, rtp, offset, bad, trusted: !bad && previous !== undefined };
    this.#senderReports.set(kind, report);
    const audio = this.#senderReports.get('audio');
    const video = this.#senderReports.get('video');
    const videoPipeline = this.#pipelines.get('video')?.pipeline;
    if (!audio?.trusted || !video?.trusted || videoPipeline === undefined) return;
    // Each track's (recorder time − sender time) should be the same; the difference is the error.
    const target = video.offset - audio.offset;
    if (Math.abs(target) > 250) return;
    const error = target + videoPipeline.offsetMs;
    if (!this.#lipSyncApplied) {
      videoPipeline.offsetMs = -target;
      this.#lipSyncApplied = true;
    } else if (Math.abs(error) > 10) {
      // Later corrections move slowly so frames stay in order.
      videoPipeline.offsetMs -= Math.sign(error) * Math.min(Math.abs(error), 5);
    }
  }

  #onFrame(frame: TrackFrame): void {
    if (this.#stopped) return;
    if (frame.kind === 'video' && frame.keyframe && this.#videoConfig === null)
      this.#videoConfig = this.#configOf(frame.data);
    if (frame.kind === 'video' && frame.keyframe) this.#noteSize(frame);
    if (frame.kind === 'video' && this.#videoCodec === 'H264')
      frame = { ...frame, data: annexBToAvcc(frame.data) };
    this.#firstFrameAt ??= Date.now();
    // Insert in time order (frames of one track already come in order).
    let i = this.#queue.length;
    while (i > 0 && this.#queue[i - 1]!.timeMs > frame.timeMs) i--;
    this.#queue.splice(i, 0, frame);
  }

  /** Keeps the video size of each keyframe when it changes (for the files' metadata). */
  #noteSize(frame: TrackFrame): void {
    const size = this.#configOf(frame.data);
    if (size?.width === undefined || size.height === undefined) return;
    const last = this.#sizes.at(-1);
    if (last !== undefined && last.width === size.width && last.height === size.height) return;
    this.#sizes.push({ timeMs: frame.timeMs, width: size.width, height: size.height });
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

  #configOf(frame: Buffer): Pick<MatroskaTrack, 'codecPrivate' | 'width' | 'height'> | null {
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
    this.#serial(() => this.#flush(Date.now() - INTERLEAVE_MS));
  }

  #serial(task: () => Promise<void>): Promise<void> {
    this.#work = this.#work.then(task).catch((error: unknown) => {
      this.#options.logger.error({ err: error, streamId: this.streamId }, 'recording write failed');
    });
    return this.#work;
  }

  /** Writes queued frames up to `until` (ms), once the file can be started. */
  async #flush(until: number): Promise<void> {
    if (this.#queue.length === 0) return;
    if (this.#main === null && this.#split === null) {
      if (!this.#readyToStart()) return;
      await this.#openFiles();
    }
    while (this.#queue.length > 0 && this.#queue[0]!.timeMs <= until) {
      const frame = this.#queue.shift()!;
      await this.#write(frame);
    }
  }

  #readyToStart(): boolean {
    const videoExpected = this.#pipelines.has('video');
    if (!videoExpected) return true;
    if (this.#videoConfig !== null) return true;
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
    };
  }

  async #write(frame: TrackFrame): Promise<void> {
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
      if (track === undefined) continue;
      // Frames never go back in time within a file (a late frame is written at the last time);
      // video frames keep distinct times, as players need one frame per timestamp.
      const last = file.lastByKind.get(frame.kind) ?? -Infinity;
      const time = Math.max(frame.timeMs, file.lastTime, frame.kind === 'video' ? last + 1 : last);
      file.lastTime = time;
      file.lastByKind.set(frame.kind, time);
      file.writer.write(track, time - file.startTime, frame.data, frame.keyframe);
    }
  }

  async #close(file: OpenFile): Promise<void> {
    const { durationMs, size } = await file.writer.finalize();
    const info: RecordedFile = {
      ...file.info,
      size,
      durationMs,
      stopOffsetMs: file.info.startOffsetMs + durationMs,
      ...(file.tracks.has('video') ? { resolutions: this.#sizesBetween(file.startTime, file.lastTime) } : {}),
    };
    this.#files.push(info);
    this.#options.onFileFinished?.(info);
  }

  /** Writes everything received and finalizes the files; returns them. */
  async stop(): Promise<RecordedFile[]> {
    if (this.#stopped) {
      await this.#work;
      return this.#files;
    }
    // Frames still held by the pipelines are part of the recording.
    for (const { pipeline } of this.#pipelines.values()) pipeline.flush();
    this.#stopped = true;
    clearInterval(this.#timer);
    clearInterval(this.#keyframeTimer);
    for (const unsubscribe of this.#unsubscribers) unsubscribe();
    for (const { pipeline, unsubscribe } of this.#pipelines.values()) {
      unsubscribe();
      pipeline.close();
    }
    await this.#serial(async () => {
      if (this.#queue.length > 0 && this.#main === null && this.#split === null) await this.#openFiles();
      while (this.#queue.length > 0) await this.#write(this.#queue.shift()!);
      if (this.#main !== null) await this.#close(this.#main);
      if (this.#split !== null) await this.#close(this.#split);
      this.#main = null;
      this.#split = null;
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
