import { existsSync } from 'node:fs';
import { rename, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Manifest, ManifestFile } from '../../shared/archive';
import { StudioError } from '../../shared/errors';
import type { Size } from '../../shared/layout';
import type { Logger } from '../logger';
import type { Ffmpeg } from '../media/ffmpeg';
import {
  planComposition,
  type ClassChange,
  type CompositionPlan,
  type PlanSource,
  type TimedLayout,
} from './compositionPlan';
import { COMPOSITION_FPS, type EncodeSettings } from './encoding';
import { FfmpegError } from './FfmpegError';
import { FfmpegJob } from './FfmpegJob';
import { buildFfmpegArgs } from './filterGraph';
import { probeMedia, type MediaProbe } from './mediaProbe';

/** One composition to render. */
export interface ComposeRequest {
  /** The archive's folder: manifest file names are relative to it. */
  archiveDir: string;
  manifest: Manifest;
  /** The layout timeline (first entry from the start). */
  layouts: TimedLayout[];
  canvas: Size;
  encode: EncodeSettings;
  audioSources: string[];
  audioSourcesExcluded: string[];
  trim: boolean;
  /** The archive recorded video / audio (false: leave that track out). */
  video: boolean;
  audio: boolean;
  /** Where the file goes; written under a temporary name and renamed when complete. */
  output: string;
}

export interface ComposeResult {
  /** Seconds of media. */
  duration: number;
  /** Bytes. */
  size: number;
  plan: CompositionPlan;
  /** Wall-clock milliseconds ffmpeg ran. */
  elapsedMs: number;
}

export interface ComposeControl {
  /** Percent done, as ffmpeg reports its progress. */
  onProgress?: (percent: number) => void;
  /** Aborting kills ffmpeg; compose rejects with an FfmpegError whose `cancelled` is true. */
  signal?: AbortSignal;
  /** Called with the running job (tests and the bench read its PID). */
  onJob?: (job: FfmpegJob) => void;
}

export interface ComposerOptions {
  ffmpeg: Ffmpeg;
  logger: Logger;
  /** Output frame rate (default 30). */
  fps?: number;
  /** ffmpeg is stopped (and the composition fails) after this long without progress (default 300 s). */
  stallTimeoutMs?: number;
}

/**
 * Manifest extras an OpenTok-style recorder may add: the stream's layout classes, and the
 * studio's timeline of them (`layoutClassChanges`: each `{ atMs, classes }` from the file's start
 * on, the first entry the classes it started with).
 */
type ManifestFileWithClasses = ManifestFile & { layoutClassList?: unknown; layoutClassChanges?: unknown };

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((c): c is string => typeof c === 'string') : [];
}

/** A file's classes at its start and the changes after, from its manifest entry. */
function classesOf(file: ManifestFileWithClasses): { classes: string[]; classChanges?: ClassChange[] } {
  const timeline = classTimeline(file.layoutClassChanges);
  if (timeline.length === 0) return { classes: stringList(file.layoutClassList) };
  return { classes: timeline[0]!.classes, classChanges: timeline.slice(1) };
}

/** A file's class timeline from a manifest entry (malformed entries are left out). */
export function classTimeline(value: unknown): ClassChange[] {
  if (!Array.isArray(value)) return [];
  const out: ClassChange[] = [];
  for (const entry of value as unknown[]) {
    if (typeof entry !== 'object' || entry === null) continue;
    const { atMs, classes } = entry as { atMs?: unknown; classes?: unknown };
    if (typeof atMs !== 'number' || !Number.isFinite(atMs) || !Array.isArray(classes)) continue;
    out.push({ atMs, classes: stringList(classes) });
  }
  return out.sort((a, b) => a.atMs - b.atMs);
}

/**
 * Renders compositions: probes an archive's files, plans the timeline from the manifest and the
 * layout timeline, builds one ffmpeg filter graph and runs it.
 */
export class Composer {
  readonly #ffmpeg: Ffmpeg;
  readonly #logger: Logger;
  readonly #fps: number;
  readonly #stallMs: number;

  constructor(options: ComposerOptions) {
    this.#ffmpeg = options.ffmpeg;
    this.#logger = options.logger;
    this.#fps = options.fps ?? COMPOSITION_FPS;
    this.#stallMs = options.stallTimeoutMs ?? 300_000;
  }

  /** Probes the manifest's files (ffprobe) into plan sources. */
  async sources(archiveDir: string, manifest: Manifest, signal?: AbortSignal): Promise<PlanSource[]> {
    const ffprobe = this.#ffmpeg.ffprobePath;
    if (ffprobe === null) {
      throw new StudioError(
        'Unavailable',
        'ffprobe was not found next to ffmpeg or on PATH; compositions need it',
      );
    }
    const files = manifest.files as ManifestFileWithClasses[];
    for (const file of files) {
      if (!existsSync(join(archiveDir, file.filename))) {
        throw new StudioError(
          'NotFound',
          `recording file ${file.filename} of the manifest is missing`,
          'file',
        );
      }
    }
    // A few ffprobe runs at once: probing is part of every composition's wall time.
    const probes: MediaProbe[] = new Array(files.length);
    let next = 0;
    const worker = async () => {
      while (next < files.length) {
        const i = next++;
        probes[i] = await probeMedia(ffprobe, join(archiveDir, files[i]!.filename), signal ? { signal } : {});
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, files.length) }, worker));
    const sources: PlanSource[] = files.map((file, i) => ({
      id: file.filename,
      path: join(archiveDir, file.filename),
      streamId: file.streamId,
      connectionData: file.connectionData ?? '',
      videoType: file.videoType ?? null,
      ...classesOf(file),
      startMs: file.startTimeOffset,
      stopMs: file.stopTimeOffset,
      // A manifest from elsewhere may lack it, or hold anything: a number or nothing.
      ...(Number.isFinite(file.streamCreatedAt) && Number.isFinite(manifest.createdAt)
        ? { joinedMs: file.streamCreatedAt! - manifest.createdAt }
        : {}),
      probe: probes[i]!,
    }));
    return sources;
  }

  /** Plans a composition without rendering it. */
  async plan(request: ComposeRequest, signal?: AbortSignal): Promise<CompositionPlan> {
    const sources = await this.sources(request.archiveDir, request.manifest, signal);
    return planComposition(sources, {
      canvas: request.canvas,
      fps: this.#fps,
      layouts: request.layouts,
      audioSources: request.audioSources,
      audioSourcesExcluded: request.audioSourcesExcluded,
      trim: request.trim,
      video: request.video,
      audio: request.audio,
    });
  }

  /** Renders a composition to `request.output`. */
  async compose(request: ComposeRequest, control: ComposeControl = {}): Promise<ComposeResult> {
    const plan = await this.plan(request, control.signal);
    if (!plan.hasVideo && !plan.hasAudio) {
      throw new StudioError(
        'InvalidArgument',
        'nothing to compose: the archive has neither video nor audio',
        'archiveId',
      );
    }
    const partial = `${request.output}.part`;
    const script = `${request.output}.graph.txt`;
    const encode = { cores: availableParallelism(), ...request.encode };
    const { args, filterGraph } = buildFfmpegArgs(plan, encode, partial, script);
    await writeFile(script, `${filterGraph}\n`);
    const started = Date.now();
    const job = new FfmpegJob(this.#ffmpeg.path, args);
    control.onJob?.(job);
    this.#logger.debug(
      { pid: job.pid, output: request.output, inputs: plan.inputs.length },
      'ffmpeg started',
    );
    const abort = () => job.cancel();
    control.signal?.addEventListener('abort', abort, { once: true });
    if (control.signal?.aborted) job.cancel();
    let lastPercent = -1;
    let lastSeconds = -1;
    let lastAdvance = Date.now();
    job.on('progress', (seconds) => {
      if (seconds > lastSeconds) {
        lastSeconds = seconds;
        lastAdvance = Date.now();
      }
      const percent = Math.max(0, Math.min(99, Math.floor((seconds / plan.duration) * 100)));
      if (percent !== lastPercent) {
        lastPercent = percent;
        control.onProgress?.(percent);
      }
    });
    // A wedged ffmpeg would hold the queue forever. The limit is generous: moving the index of
    // a long MP4 to the front (faststart) runs after the last progress report.
    let stalled = false;
    const watchdog = setInterval(
      () => {
        if (Date.now() - lastAdvance > this.#stallMs) {
          stalled = true;
          job.cancel();
        }
      },
      Math.min(5000, this.#stallMs / 4),
    );
    watchdog.unref();
    try {
      await job.done;
      await rename(partial, request.output);
    } catch (error) {
      await rm(partial, { force: true });
      if (stalled) {
        throw new FfmpegError(
          `ffmpeg made no progress for ${Math.round(this.#stallMs / 1000)} s and was stopped`,
          error instanceof FfmpegError ? error.stderr : '',
          null,
          false,
        );
      }
      throw error;
    } finally {
      clearInterval(watchdog);
      control.signal?.removeEventListener('abort', abort);
      job.close();
      await rm(script, { force: true });
    }
    const { size } = await stat(request.output);
    return { duration: plan.duration, size, plan, elapsedMs: Date.now() - started };
  }
}
