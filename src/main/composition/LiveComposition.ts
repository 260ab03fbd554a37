import { createReadStream, existsSync } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { VideoType } from '../../shared/archive';
import { StudioError } from '../../shared/errors';
import type { Size } from '../../shared/layout';
import type { Logger } from '../logger';
import type { Ffmpeg } from '../media/ffmpeg';
import { buildChunkGraph, samplesPerFrame, type ChunkWindow } from './chunkGraph';
import {
  planComposition,
  type ClassChange,
  type CompositionPlan,
  type PlanSource,
  type TimedLayout,
} from './compositionPlan';
import { audioEncoderArgs, COMPOSITION_FPS, videoEncoderArgs, type EncodeSettings } from './encoding';
import { FfmpegError } from './FfmpegError';
import { FfmpegJob } from './FfmpegJob';
import { n, SAMPLE_RATE } from './filterGraph';
import { MatroskaFollower } from './MatroskaFollower';
import type { MediaProbe } from './mediaProbe';

/** A recording file of the archive as the store knows it while recording. */
export interface LiveFile {
  filename: string;
  streamId: string;
  /** ms from the archive's start to the file's time 0. */
  startOffsetMs: number;
  /** ms from the archive's start to its end, or null while it is being written. */
  stopOffsetMs: number | null;
  /** ms from the archive's start to when its stream was created (`PlanSource.joinedMs`). */
  joinedMs?: number;
  connectionData: string;
  videoType: VideoType | null;
  /** Layout classes at the file's start, and each change while it records. */
  classes: string[];
  classChanges: ClassChange[];
}

export interface LiveCompositionOptions {
  ffmpeg: Ffmpeg;
  logger: Logger;
  archiveId: string;
  archiveDir: string;
  /** The composed file (`archive.mp4`); written as `<output>.part`, renamed when complete. */
  output: string;
  canvas: Size;
  encode: EncodeSettings;
  /** The archive records video / audio. */
  video: boolean;
  audio: boolean;
  /** Wall-clock ms of the archive's time 0 (its `createdAt`, as layout changes and files use). */
  archiveStartMs: number;
  /** The archive's media files now (read before every chunk). */
  files: () => LiveFile[];
  /** The layout timeline now (read before every chunk). */
  layouts: () => TimedLayout[];
  fps?: number;
  /** Seconds of output per chunk while recording (default 6). */
  chunkSec?: number;
  /** Seconds per chunk once the archive stopped (catching up; default 30). */
  catchUpChunkSec?: number;
  /** How far behind the wall clock rendering stays while recording, ms (default 2000). */
  lagMs?: number;
  /** A file that has not grown for this long no longer holds rendering back (ms, default 3000). */
  staleMs?: number;
  /** Nice level of composition processes while the archive records (default 10). */
  nice?: number;
  /** Called after each chunk: output frames done, and the total once it is known. */
  onProgress?: (framesDone: number, framesTotal: number | null) => void;
}

/** What the live composition did, for the composition's file row and the benchmark. */
export interface LiveResult {
  /** Seconds of media. */
  duration: number;
  size: number;
  frames: number;
  /** Frames rendered before the archive stopped, and after (the tail). */
  framesBeforeStop: number;
  framesAfterStop: number;
  chunks: number;
  chunksAfterStop: number;
  /** Wall ms from `finish()` to the file in place. */
  finishMs: number;
  /** Where those ms went (see `TailSteps`). */
  tail: TailSteps;
  /**
   * Seconds of input decoded only to reach a window (from the keyframe before it), summed over
   * chunks and inputs: the price of cutting chunks where the inputs have no keyframe.
   */
  prerollSec: number;
}

/** The work after stop, step by step (wall ms, and frames). */
export interface TailSteps {
  /**
   * Frames the live edge allowed when the archive stopped but were not rendered yet: under a
   * chunk while the composition keeps up (it waits for a whole chunk), more once it fell behind.
   */
  backlogFrames: number;
  /** A chunk rendering at stop: waited for it to end. */
  inFlightMs: number;
  /** Rendering the frames left (tail chunks at normal priority). */
  renderMs: number;
  /** Closing the muxer's pipes until it wrote its last fragment. */
  muxerMs: number;
  /** Rename and stat: no pass over the file. */
  placeMs: number;
}

/** Bytes of one f32le stereo sample frame. */
const PCM_FRAME = 8;
/** AAC's encoder delay: the muxer's first packet starts this many samples early (see `#feedAudio`). */
const AAC_PRIMING = 1024;

/**
 * Renders a composed archive while it records, behind the live edge (docs/composition.md).
 *
 * Chunks of the output timeline are rendered by short ffmpeg runs into raw H.264 (no B-frames,
 * each chunk starting with an IDR frame) and float PCM, exactly one chunk's frames and samples
 * each. One long-running muxer ffmpeg reads those streams from two pipes, encodes the audio
 * once for the whole archive (one AAC encode, no priming at chunk joins), copies the video,
 * and writes fragmented MP4 as it goes. Each chunk's inputs are the recorder's growing
 * Matroska files, handed over as their header plus the clusters of the window (from a video
 * keyframe a little before it), located through a cluster index kept by `MatroskaFollower`
 * — so files are read forward once, never scanned from the start per chunk. Layout changes
 * and the files present are read before each chunk, so every change lands at its time.
 * After stop only the tail is left: the last chunks and the muxer's final fragment.
 */
export class LiveComposition {
  readonly #o: LiveCompositionOptions;
  readonly #logger: Logger;
  readonly #fps: number;
  readonly #followers = new Map<string, MatroskaFollower>();
  readonly #abort = new AbortController();
  readonly #workDir: string;
  readonly #partial: string;
  #muxer: FfmpegJob | null = null;
  #chunk: FfmpegJob | null = null;
  #rendered = 0;
  #chunks = 0;
  #audioStarted = false;
  #prerollSec = 0;
  /** The chunk rendering now, if any (finish() times what was in flight at stop). */
  #chunkRunning: Promise<void> | null = null;
  /** Set by finish(): the output's length in frames, and what was done at that moment. */
  #end: { frames: number; framesAtStop: number; chunksAtStop: number } | null = null;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  #failure: Error | null = null;
  #muxerDone = false;
  #closed = false;

  constructor(options: LiveCompositionOptions) {
    this.#o = options;
    this.#logger = options.logger;
    this.#fps = options.fps ?? COMPOSITION_FPS;
    this.#workDir = join(options.archiveDir, '.live');
    this.#partial = `${options.output}.part`;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get #lagMs(): number {
    return this.#o.lagMs ?? 2000;
  }

  /** Output frames rendered so far. */
  get framesRendered(): number {
    return this.#rendered;
  }

  /** Why the live render stopped, if it failed. */
  get failure(): Error | null {
    return this.#failure;
  }

  /** Starts the muxer and the chunk loop. */
  async start(): Promise<void> {
    if (!this.#o.video && !this.#o.audio) {
      throw new StudioError('InvalidArgument', 'nothing to compose: the archive has neither video nor audio');
    }
    await rm(this.#workDir, { recursive: true, force: true });
    await mkdir(this.#workDir, { recursive: true });
    await rm(this.#partial, { force: true });
    this.#muxer = new FfmpegJob(this.#o.ffmpeg.path, this.#muxerArgs(), {
      inputPipes: (this.#o.video ? 1 : 0) + (this.#o.audio ? 1 : 0),
      nice: this.#o.nice ?? 10,
    });
    const ended = () => {
      this.#muxerDone = true;
    };
    this.#muxer.done.then(ended, ended);
    this.#loop = this.#run().catch((error: unknown) => {
      this.#failure = error instanceof Error ? error : new Error(String(error));
    });
  }

  /**
   * The archive stopped and its files are final: renders what is left up to the end of the
   * last file, closes the muxer and puts the file in place. Rejects if the live render failed
   * (the caller then composes the archive offline).
   */
  async finish(): Promise<LiveResult> {
    const started = Date.now();
    const files = this.#o.files();
    const endMs = Math.max(0, ...files.map((f) => f.stopOffsetMs ?? f.startOffsetMs));
    const frames = Math.max(1, Math.round((endMs / 1000) * this.#fps));
    // What the edge allowed a moment ago (the lag behind now) and was not rendered: more than a
    // chunk means the composition had fallen behind (CPU) and catches up now.
    const edge = Math.min(
      frames,
      Math.max(0, Math.floor(((started - this.#o.archiveStartMs - this.#lagMs) / 1000) * this.#fps)),
    );
    const inFlight = this.#chunkRunning;
    this.#end = { frames, framesAtStop: this.#rendered, chunksAtStop: this.#chunks };
    const backlogFrames = Math.max(0, edge - this.#rendered);
    this.#wake?.();
    if (inFlight !== null) await inFlight.catch(() => {});
    const rendering = Date.now();
    await this.#loop;
    if (this.#failure !== null) throw this.#failure;
    if (this.#closed) throw new FfmpegError('the live composition was closed', '', null, true);
    const muxing = Date.now();
    const muxer = this.#muxer!;
    for (let fd = 3; fd < 3 + (this.#o.video ? 1 : 0) + (this.#o.audio ? 1 : 0); fd++) muxer.pipe(fd).end();
    await muxer.done;
    muxer.close();
    const placing = Date.now();
    await rename(this.#partial, this.#o.output);
    await rm(this.#workDir, { recursive: true, force: true });
    await this.#closeFollowers();
    const { size } = await stat(this.#o.output);
    const end = this.#end;
    const tail: TailSteps = {
      backlogFrames,
      inFlightMs: rendering - started,
      renderMs: muxing - rendering,
      muxerMs: placing - muxing,
      placeMs: Date.now() - placing,
    };
    this.#logger.info(
      { archiveId: this.#o.archiveId, frames, framesAfterStop: frames - end.framesAtStop, ...tail },
      'live composition finished',
    );
    return {
      duration: frames / this.#fps,
      size,
      frames,
      framesBeforeStop: end.framesAtStop,
      framesAfterStop: frames - end.framesAtStop,
      chunks: this.#chunks,
      chunksAfterStop: this.#chunks - end.chunksAtStop,
      finishMs: Date.now() - started,
      tail,
      prerollSec: Math.round(this.#prerollSec * 10) / 10,
    };
  }

  /** Kills the processes and removes the partial output. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    this.#wake?.();
    this.#chunk?.close();
    this.#muxer?.close();
    await this.#loop;
    await this.#closeFollowers();
    await rm(this.#partial, { force: true });
    await rm(this.#workDir, { recursive: true, force: true });
  }

  async #closeFollowers(): Promise<void> {
    await Promise.all([...this.#followers.values()].map((f) => f.close()));
    this.#followers.clear();
  }

  #muxerArgs(): string[] {
    const { video, audio, encode } = this.#o;
    const args = ['-hide_banner', '-nostdin', '-y', '-loglevel', 'error', '-nostats'];
    // Raw streams need no probing; a long probe would wait on one pipe while the other fills.
    const raw = ['-probesize', '32', '-analyzeduration', '0', '-thread_queue_size', '4096'];
    if (video) args.push(...raw, '-f', 'h264', '-framerate', String(this.#fps), '-i', 'pipe:3');
    if (audio) {
      args.push(...raw, '-f', 'f32le', '-ar', String(SAMPLE_RATE), '-ac', '2');
      args.push('-i', video ? 'pipe:4' : 'pipe:3');
    }
    if (video) args.push('-map', '0:v', '-c:v', 'copy', '-video_track_timescale', '90000');
    if (audio) args.push('-map', `${video ? 1 : 0}:a`, ...audioEncoderArgs(encode));
    // Fragments at each keyframe (every 4 s), written as they complete: a crash keeps what was
    // written, and nothing is rewritten at the end. Timestamps are kept as they are (the AAC
    // priming is taken out of the input instead; fragmented MP4 has no edit list for it).
    args.push('-avoid_negative_ts', 'disabled', '-flush_packets', '1');
    args.push('-movflags', 'frag_keyframe+empty_moov+default_base_moof');
    if (!video) args.push('-frag_duration', '2000000');
    args.push('-f', 'mp4', this.#partial);
    return args;
  }

  // ---- the chunk loop ---------------------------------------------------------------------

  async #run(): Promise<void> {
    const fps = this.#fps;
    for (;;) {
      if (this.#closed) return;
      if (this.#muxerDone) throw new Error('the composition muxer ended early');
      await this.#refresh();
      const end = this.#end;
      let target: number;
      let size: number;
      if (end !== null) {
        if (this.#rendered >= end.frames) return;
        target = end.frames;
        size = Math.round((this.#o.catchUpChunkSec ?? 30) * fps);
      } else {
        target = this.#readyFrame();
        size = Math.round((this.#o.chunkSec ?? 6) * fps);
        if (target - this.#rendered < size) {
          await this.#sleep(500);
          continue;
        }
      }
      const to = Math.min(target, this.#rendered + size);
      const chunk = this.#renderChunk({ from: this.#rendered, to });
      this.#chunkRunning = chunk;
      try {
        await chunk;
      } finally {
        this.#chunkRunning = null;
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        this.#wake = null;
        done();
      };
    });
  }

  /** Opens followers for new files and indexes what every file gained. */
  async #refresh(): Promise<void> {
    for (const file of this.#o.files()) {
      const key = stem(file.filename);
      if (this.#followers.has(key)) continue;
      const path = join(this.#o.archiveDir, file.filename);
      if (!existsSync(path) || !/\.(webm|mkv)$/.test(file.filename)) continue;
      this.#followers.set(key, await MatroskaFollower.open(path));
    }
    await Promise.all([...this.#followers.values()].map((f) => f.refresh()));
  }

  /** The last output frame every input has settled for (while recording). */
  #readyFrame(): number {
    const now = Date.now();
    let readyMs = now - this.#o.archiveStartMs - this.#lagMs;
    const stale = this.#o.staleMs ?? 3000;
    for (const file of this.#o.files()) {
      if (file.stopOffsetMs !== null) continue;
      const follower = this.#followers.get(stem(file.filename));
      if (follower === undefined || now - follower.grewAt > stale) continue;
      const last = follower.clusters.at(-1);
      // Data reaches at least the start of the last complete cluster.
      readyMs = Math.min(readyMs, file.startOffsetMs + (last?.timeMs ?? 0));
    }
    return Math.max(0, Math.floor((readyMs / 1000) * this.#fps));
  }

  /** The plan of the timeline as it is known now, or null when no file has media yet. */
  #plan(window: ChunkWindow): CompositionPlan | null {
    const fps = this.#fps;
    const windowEndMs = (window.to / fps) * 1000;
    const sources: PlanSource[] = [];
    const now = Date.now();
    for (const file of this.#o.files()) {
      const follower = this.#followers.get(stem(file.filename));
      if (follower === undefined || follower.header === null || follower.clusters.length === 0) continue;
      const video = follower.tracks.find((t) => t.kind === 'video');
      const audio = follower.tracks.find((t) => t.kind === 'audio');
      const probe: MediaProbe = {
        startTime: 0,
        duration: null,
        video:
          video === undefined
            ? null
            : {
                codec: video.codecId,
                width: video.width,
                height: video.height,
                firstPts: 0,
                lastPts: 0,
                // The offline probe's gaps (frames 2 s or more apart: the tile is black between).
                // In a file still being written, a last frame more than 2 s before what the
                // recorder must have written by now (1 s ago) starts a gap that is still open.
                gaps: follower.videoGaps(
                  2,
                  file.stopOffsetMs === null
                    ? now - this.#o.archiveStartMs - file.startOffsetMs - 1000
                    : null,
                ),
              },
        audio:
          audio === undefined
            ? null
            : { codec: audio.codecId, startTime: 0, channels: 2, sampleRate: 48_000 },
      };
      sources.push({
        id: file.filename,
        path: follower.path,
        streamId: file.streamId,
        connectionData: file.connectionData,
        videoType: file.videoType,
        classes: file.classes,
        classChanges: file.classChanges,
        startMs: file.startOffsetMs,
        ...(file.joinedMs !== undefined ? { joinedMs: file.joinedMs } : {}),
        // A file still being written lasts at least past this window.
        stopMs: file.stopOffsetMs ?? windowEndMs + 1000,
        probe,
      });
    }
    if (sources.length === 0) return null;
    try {
      return planComposition(sources, {
        canvas: this.#o.canvas,
        fps,
        layouts: this.#o.layouts(),
        audioSources: ['*'],
        audioSourcesExcluded: [],
        trim: false,
        video: this.#o.video,
        audio: this.#o.audio,
      });
    } catch (error) {
      // Nothing drawn or heard yet (e.g. a layout that shows no present stream): black, silent.
      if (error instanceof StudioError && error.code === 'InvalidArgument') return null;
      throw error;
    }
  }

  async #renderChunk(window: ChunkWindow): Promise<void> {
    const fps = this.#fps;
    const plan = this.#plan(window);
    const { inputs, filterGraph } = buildChunkGraph(plan, window, this.#o.canvas, fps, {
      video: this.#o.video,
      audio: this.#o.audio,
    });
    const name = String(this.#chunks).padStart(5, '0');
    const script = join(this.#workDir, `${name}.graph.txt`);
    const videoOut = join(this.#workDir, `${name}.h264`);
    const audioOut = join(this.#workDir, `${name}.pcm`);
    await writeFile(script, `${filterGraph}\n`);
    const recording = this.#end === null;
    const args = ['-hide_banner', '-nostdin', '-y', '-loglevel', 'error', '-nostats', '-copyts'];
    args.push('-filter_complex_threads', '1');
    const feeds: Array<{ follower: MatroskaFollower; from: number; to: number }> = [];
    for (const input of inputs) {
      const follower = this.#followers.get(stem(input.input.source.id))!;
      const range = this.#clusterRange(follower, input.input.offset, window, input.video);
      feeds.push({ follower, ...range });
      const startMs = (window.from / fps - input.input.offset) * 1000;
      const first = follower.clusters[range.from];
      if (first !== undefined && startMs > first.timeMs) this.#prerollSec += (startMs - first.timeMs) / 1000;
      args.push('-threads', recording ? '1' : '2', '-thread_queue_size', '512', '-reinit_filter', '0');
      args.push('-itsoffset', n(input.input.offset), '-f', 'matroska', '-i', `pipe:${3 + feeds.length - 1}`);
    }
    args.push('-filter_complex_script', script);
    const encode: EncodeSettings = { ...this.#o.encode, liveChunk: { threads: recording ? 2 : 4 } };
    if (this.#o.video) {
      args.push('-map', '[vout]', ...videoEncoderArgs(encode, this.#o.canvas, fps));
      args.push('-frames:v', String(window.to - window.from), '-f', 'h264', videoOut);
    }
    if (this.#o.audio) {
      args.push('-map', '[aout]', '-c:a', 'pcm_f32le', '-ar', String(SAMPLE_RATE), '-ac', '2');
      args.push('-f', 'f32le', audioOut);
    }
    const job = new FfmpegJob(this.#o.ffmpeg.path, args, {
      inputPipes: feeds.length,
      nice: recording ? (this.#o.nice ?? 10) : 0,
    });
    this.#chunk = job;
    try {
      const fed = feeds.map((feed, i) =>
        feed.follower.feed(job.pipe(3 + i), feed.from, feed.to, this.#abort.signal),
      );
      await job.done;
      await Promise.allSettled(fed);
    } catch (error) {
      if (this.#closed) return;
      throw error;
    } finally {
      job.close();
      this.#chunk = null;
    }
    await this.#append(window, videoOut, audioOut);
    await Promise.all([videoOut, audioOut, script].map((p) => rm(p, { force: true })));
    this.#rendered = window.to;
    this.#chunks++;
    this.#logger.debug(
      { archiveId: this.#o.archiveId, from: window.from, to: window.to, inputs: inputs.length, recording },
      'live composition chunk rendered',
    );
    this.#o.onProgress?.(this.#rendered, this.#end?.frames ?? null);
  }

  /** Clusters to hand ffmpeg for a window: from a keyframe before it to a second past it. */
  #clusterRange(
    follower: MatroskaFollower,
    offsetSec: number,
    window: ChunkWindow,
    video: boolean,
  ): { from: number; to: number } {
    const clusters = follower.clusters;
    const startMs = (window.from / this.#fps - offsetSec) * 1000;
    const endMs = (window.to / this.#fps - offsetSec) * 1000;
    // Audio decoders (Opus) need a little pre-roll; video needs the keyframe its frames refer to.
    const wantKey = video && follower.hasVideo;
    let from = 0;
    for (let i = 0; i < clusters.length; i++) {
      const c = clusters[i]!;
      if (c.timeMs > startMs - (wantKey ? 200 : 500)) break;
      if (!wantKey || c.videoKey) from = i;
    }
    let to = clusters.length;
    for (let i = from; i < clusters.length; i++) {
      if (clusters[i]!.timeMs > endMs + 1000) {
        to = i;
        break;
      }
    }
    return { from, to };
  }

  /** Hands a chunk's streams to the muxer, checking each has exactly the window's length. */
  async #append(window: ChunkWindow, videoOut: string, audioOut: string): Promise<void> {
    const muxer = this.#muxer!;
    const writes: Array<Promise<void>> = [];
    if (this.#o.video) {
      writes.push(pipeline(createReadStream(videoOut), muxer.pipe(3), { end: false }));
    }
    if (this.#o.audio) {
      const samples = (window.to - window.from) * samplesPerFrame(this.#fps);
      const { size } = await stat(audioOut);
      if (size !== samples * PCM_FRAME) {
        throw new Error(`chunk audio has ${size / PCM_FRAME} samples, expected ${samples}`);
      }
      writes.push(this.#feedAudio(audioOut, muxer.pipe(this.#o.video ? 4 : 3)));
    }
    await Promise.all(writes);
  }

  /**
   * The AAC encoder's first packet carries 1024 samples of priming, and fragmented MP4 keeps no
   * edit list to hide it: the track would play 21 ms late. Dropping the first 1024 input
   * samples (the archive's first 21 ms) puts every later sample at its exact time instead.
   */
  async #feedAudio(file: string, out: Writable): Promise<void> {
    const start = this.#audioStarted ? 0 : AAC_PRIMING * PCM_FRAME;
    this.#audioStarted = true;
    await pipeline(createReadStream(file, { start }), out, { end: false });
  }
}

/** A file's name without its extension: the recorder may remux `x.webm` to `x.mp4` at stop. */
function stem(filename: string): string {
  const base = basename(filename);
  return filename.slice(0, filename.length - base.length) + base.replace(/\.[^.]+$/, '');
}
