import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import type { ArchiveJson, Manifest } from '../../shared/archive';
import {
  compositionSpecSchema,
  createCompositionHookSchema,
  createCompositionSchema,
  listCompositionsSchema,
  sizeOfResolution,
  updateCompositionHookSchema,
  type CompositionHookJson,
  type CompositionJson,
  type CompositionKind,
  type CompositionSpec,
} from '../../shared/compositions';
import { conflict, notFound, StudioError, unavailable } from '../../shared/errors';
import type { AnyStudioEvent } from '../../shared/events';
import type { CompositionEventBase } from '../../shared/events/compositions';
import { DEFAULT_LAYOUT, normalizeLayout, type Layout, type Size } from '../../shared/layout';
import { parseWith } from '../../shared/validation';
import type { Settings } from '../config/schema';
import type { ArchiveStatus } from '../events/ArchiveStatus';
import type { EventBus } from '../events/EventBus';
import type { Logger } from '../logger';
import type { Ffmpeg } from '../media/ffmpeg';
import type { ArchiveFileRecord, ArchiveRecord } from '../store/ArchiveRepository';
import { CompositionHookRepository, type CompositionHookRecord } from '../store/CompositionHookRepository';
import { CompositionRepository, type CompositionRecord } from '../store/CompositionRepository';
import { classTimeline, Composer } from './Composer';
import type { TimedLayout } from './compositionPlan';
import { FfmpegError } from './FfmpegError';
import {
  LiveComposition,
  type LiveCompositionOptions,
  type LiveFile,
  type LiveResult,
} from './LiveComposition';

export interface CompositionServiceOptions {
  db: BetterSqlite3.Database;
  bus: EventBus;
  archiveStatus: ArchiveStatus;
  logger: Logger;
  settings: Pick<Settings, 'compositionConcurrency'>;
  /** The studio's data folder: archives live in `<dataDir>/archives/<archiveId>/`. */
  dataDir: string;
  /** The ffmpeg to use, or why there is none (compositions then fail with that reason). */
  ffmpeg: Ffmpeg | Error;
  /** x264 preset override (tests use `ultrafast`); default: the tuned settings of encoding.ts. */
  x264Preset?: string;
  /** A job interrupted by crashes this many times is failed instead of retried (default 3). */
  maxAttempts?: number;
  /**
   * Composed archives are rendered while they record (`LiveComposition`); these tune it, and
   * `false` composes them after stop instead.
   */
  live?: false | Pick<LiveCompositionOptions, 'chunkSec' | 'catchUpChunkSec' | 'lagMs' | 'staleMs' | 'nice'>;
}

/** A composed archive being rendered while it records. */
interface LiveJob {
  recordId: string;
  composition: LiveComposition;
  started: Promise<void>;
}

/** A running job: how to stop it and what it does when stopped. */
interface RunningJob {
  abort: AbortController;
  /** Why it was stopped: `close` leaves it re-runnable, `delete` marks it deleted. */
  stopReason: 'close' | 'delete' | null;
  finished: Promise<void>;
}

/** The media file of a completed composition. */
export interface CompositionMedia {
  path: string;
  size: number;
  contentType: string;
  /** A file name for downloads. */
  downloadName: string;
}

const PROGRESS_PUBLISH_MS = 1000;

/**
 * Compositions of archives: the composed archive's `archive.mp4` after an archive with
 * `outputMode: composed` stops, compositions asked for through the API, and those composition
 * hooks create for every archive that stops. Jobs are rows of the compositions table, so the
 * queue survives restarts; `compositionConcurrency` ffmpeg processes run at once.
 */
export class CompositionService {
  readonly repo: CompositionRepository;
  readonly hooks: CompositionHookRepository;
  readonly #options: CompositionServiceOptions;
  readonly #logger: Logger;
  readonly #running = new Map<string, RunningJob>();
  /** Live compositions by archive id. */
  readonly #live = new Map<string, LiveJob>();
  readonly #onEvent = (event: AnyStudioEvent) => this.#handle(event);
  #composer: Composer | null = null;
  #started = false;
  #closed = false;
  #closing: Promise<void> | null = null;

  constructor(options: CompositionServiceOptions) {
    this.#options = options;
    this.#logger = options.logger;
    this.repo = new CompositionRepository(options.db);
    this.hooks = new CompositionHookRepository(options.db);
    if (!(options.ffmpeg instanceof Error)) {
      this.#composer = new Composer({ ffmpeg: options.ffmpeg, logger: options.logger });
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Jobs running now (ids). */
  get running(): string[] {
    return [...this.#running.keys()];
  }

  /**
   * Re-queues jobs a crash interrupted, queues composed archives that stopped while the
   * service was down, listens for stopping archives and starts the queue.
   */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    const maxAttempts = this.#options.maxAttempts ?? 3;
    for (const record of this.repo.withStatus(['processing'])) {
      const archive = this.#options.archiveStatus.repo.get(record.archiveId);
      if (record.kind === 'archive' && archive !== null && isRecording(archive)) {
        // A live composition the studio's end cut short. Its partial file ends wherever the
        // crash hit, with an AAC encode that cannot be resumed without a join: it is not
        // trusted. The archive is composed whole from its recovered files once recovery stops it.
        this.#discardLive(record.archiveId);
        this.repo.update(record.id, { status: 'enqueued', progress: 0 });
        this.#logger.info(
          { compositionId: record.id, archiveId: record.archiveId },
          'live composition interrupted; the archive is composed whole once it is recovered',
        );
        continue;
      }
      if (record.attempts >= maxAttempts) {
        this.#fail(
          record,
          `interrupted ${record.attempts} times (the studio stopped while it ran); giving up`,
        );
      } else {
        this.repo.update(record.id, { status: 'enqueued', progress: 0 });
        this.#logger.info({ compositionId: record.id }, 'composition interrupted by a restart; queued again');
      }
    }
    for (const archive of this.#options.archiveStatus.repo.withStatus(['stopped'])) {
      if (archive.outputMode !== 'composed') continue;
      const has = this.repo
        .forArchive(archive.id)
        .some((c) => c.kind === 'archive' && c.status !== 'deleted');
      if (!has) this.#enqueueArchive(archive);
    }
    this.#options.bus.on('event', this.#onEvent);
    this.#pump();
  }

  /** Stops listening and kills running ffmpeg processes; their jobs stay queued. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      this.#options.bus.off('event', this.#onEvent);
      const finishing: Array<Promise<void>> = [];
      for (const [archiveId, live] of this.#live) {
        this.#live.delete(archiveId);
        finishing.push(
          live.composition.close().then(() => {
            // Composed from the files at the next start (the archive stops with the studio).
            if (this.repo.get(live.recordId)?.status === 'processing')
              this.repo.update(live.recordId, { status: 'enqueued', progress: 0 });
          }),
        );
      }
      for (const job of this.#running.values()) {
        job.stopReason ??= 'close';
        job.abort.abort();
        finishing.push(job.finished);
      }
      await Promise.allSettled(finishing);
    })();
    return this.#closing;
  }

  // ---- API: compositions ----------------------------------------------------------------------

  /** `POST /api/compositions`: validates and queues a composition of an archive. */
  create(body: unknown): CompositionJson {
    const { archiveId, spec } = parseWith(createCompositionSchema, body, 'composition');
    const archive = this.#archive(archiveId);
    if (archive.status === 'started' || archive.status === 'paused') {
      throw conflict(`archive ${archiveId} is still recording; compose it once it has stopped`, 'archiveId');
    }
    if (archive.status === 'expired') {
      throw conflict(`archive ${archiveId} has expired: its files are gone`, 'archiveId');
    }
    if (this.#options.ffmpeg instanceof Error) throw unavailable(this.#options.ffmpeg.message);
    return this.toJson(this.#enqueue(archive, 'composition', spec, null));
  }

  get(id: string): CompositionJson {
    return this.toJson(this.#get(id));
  }

  /** `GET /api/compositions`: newest first, optionally of one archive or status. */
  list(query: unknown = {}): { count: number; items: CompositionJson[] } {
    const q = parseWith(listCompositionsSchema, query ?? {}, 'query');
    const { items, count } = this.repo.list({
      ...(q.archiveId !== undefined ? { archiveId: q.archiveId } : {}),
      ...(q.roomId !== undefined ? { roomId: q.roomId } : {}),
      ...(q.createdFrom !== undefined ? { createdFrom: q.createdFrom } : {}),
      ...(q.createdTo !== undefined ? { createdTo: q.createdTo } : {}),
      ...(q.status !== undefined ? { status: q.status } : {}),
      offset: q.offset,
      count: q.count,
    });
    return { count, items: items.map((r) => this.toJson(r)) };
  }

  /** `DELETE /api/compositions/{id}`: cancels it if it runs, removes its file, status `deleted`. */
  async delete(id: string): Promise<void> {
    const record = this.#get(id);
    if (record.kind === 'archive') {
      throw conflict(
        `composition ${id} is the composed archive's archive.mp4; delete the archive instead`,
        'id',
      );
    }
    const job = this.#running.get(id);
    if (job !== undefined) {
      job.stopReason = 'delete';
      job.abort.abort();
      await job.finished;
    }
    this.#markDeleted(this.repo.get(id)!);
  }

  /** The file of a completed composition, for download. */
  media(id: string): CompositionMedia {
    const record = this.#get(id);
    if (record.status !== 'completed' || record.filename === null) {
      throw notFound(`composition ${id} is ${record.status}; its media exists once it is completed`, 'id');
    }
    const path = join(this.#archiveDir(record.archiveId), record.filename);
    if (!existsSync(path)) throw notFound(`the media file of composition ${id} is gone`, 'id');
    return {
      path,
      size: statSync(path).size,
      contentType: record.spec.format === 'mp4' ? 'video/mp4' : 'video/webm',
      downloadName: `${record.id}.${record.spec.format}`,
    };
  }

  toJson(record: CompositionRecord): CompositionJson {
    return {
      ...record.spec,
      id: record.id,
      archiveId: record.archiveId,
      roomId: record.roomId,
      kind: record.kind,
      hookId: record.hookId,
      status: record.status,
      progress: record.progress,
      filename: record.filename,
      size: record.size,
      duration: record.duration,
      error: record.error,
      createdAt: record.createdAt,
      startedAt: record.startedAt,
      completedAt: record.completedAt,
      updatedAt: record.updatedAt,
      mediaUrl: `/api/compositions/${record.id}/media`,
    };
  }

  // ---- API: hooks -----------------------------------------------------------------------------

  createHook(body: unknown): CompositionHookJson {
    const input = parseWith(createCompositionHookSchema, body, 'composition hook');
    const now = Date.now();
    const record: CompositionHookRecord = {
      id: randomUUID(),
      friendlyName: input.friendlyName,
      enabled: input.enabled,
      roomId: input.roomId,
      spec: input.spec,
      createdAt: now,
      updatedAt: now,
    };
    this.hooks.save(record);
    return hookJson(record);
  }

  getHook(id: string): CompositionHookJson {
    return hookJson(this.#hook(id));
  }

  listHooks(): { count: number; items: CompositionHookJson[] } {
    const items = this.hooks.list().map(hookJson);
    return { count: items.length, items };
  }

  /** `PATCH /api/composition-hooks/{id}`: changes some fields; the result is validated whole. */
  updateHook(id: string, body: unknown): CompositionHookJson {
    const current = this.#hook(id);
    const patch = parseWith(updateCompositionHookSchema, body ?? {}, 'composition hook');
    const { friendlyName, enabled, roomId, ...specPatch } = patch;
    const base: Partial<CompositionSpec> = { ...current.spec };
    // A new container without a codec takes that container's default codec.
    if (specPatch.format !== undefined && specPatch.videoCodec === undefined) delete base.videoCodec;
    const merged = {
      ...base,
      ...Object.fromEntries(Object.entries(specPatch).filter(([, v]) => v !== undefined)),
    };
    const spec = parseWith(compositionSpecSchema, merged, 'composition hook');
    const record: CompositionHookRecord = {
      ...current,
      friendlyName: friendlyName ?? current.friendlyName,
      enabled: enabled ?? current.enabled,
      roomId: roomId === undefined ? current.roomId : roomId,
      spec,
      updatedAt: Date.now(),
    };
    this.hooks.save(record);
    return hookJson(record);
  }

  deleteHook(id: string): void {
    if (!this.hooks.delete(id)) throw notFound(`composition hook ${id} does not exist`, 'id');
  }

  // ---- archives ------------------------------------------------------------------------------

  #handle(event: AnyStudioEvent): void {
    if (event.type === 'archive.started' || event.type === 'archive.paused') this.#startLive(event.data.id);
    else if (event.type === 'archive.stopped') this.#archiveStopped(event.data);
    else if (event.type === 'archive.deleted') this.#archiveDeleted(event.data.id);
  }

  /** The recorder publishes `archive.stopped` once the files and manifest.json are final. */
  #archiveStopped(json: ArchiveJson): void {
    const archive = this.#options.archiveStatus.repo.get(json.id);
    if (archive === null) return;
    const live = this.#live.get(archive.id);
    if (live !== undefined) {
      void this.#finishLive(archive, live);
    } else if (archive.outputMode === 'composed') {
      const has = this.repo
        .forArchive(archive.id)
        .some((c) => c.kind === 'archive' && c.status !== 'deleted');
      if (!has) this.#enqueueArchive(archive);
    }
    for (const hook of this.hooks.forRoom(archive.roomId)) {
      this.#enqueue(archive, 'composition', hook.spec, hook.id);
    }
    this.#pump();
  }

  #archiveDeleted(archiveId: string): void {
    const live = this.#live.get(archiveId);
    if (live !== undefined) {
      this.#live.delete(archiveId);
      void live.composition.close();
    }
    for (const record of this.repo.forArchive(archiveId)) {
      if (record.status === 'deleted') continue;
      const job = this.#running.get(record.id);
      if (job !== undefined) {
        job.stopReason = 'delete';
        job.abort.abort();
        void job.finished.then(() => this.#markDeleted(this.repo.get(record.id)!));
      } else {
        this.#markDeleted(record);
      }
    }
  }

  /** The composed archive's job: its resolution, initial layout and bitrate cap. */
  #enqueueArchive(archive: ArchiveRecord): CompositionRecord | null {
    const spec = this.#archiveSpec(archive);
    if (spec === null) {
      this.#options.archiveStatus.set(archive.id, 'failed', { reason: 'failure' });
      return null;
    }
    return this.#enqueue(archive, 'archive', spec, null);
  }

  /** The spec of a composed archive's archive.mp4, or null when even the defaults do not parse. */
  #archiveSpec(archive: ArchiveRecord): CompositionSpec | null {
    const resolution = archive.resolution ?? '640x480';
    const raw = {
      audioSources: ['*'],
      videoLayout: archive.options.layout ?? DEFAULT_LAYOUT,
      resolution,
      format: 'mp4',
      trim: false,
      maxBitrate: archive.options.maxBitrate ?? null,
    };
    let parsed = compositionSpecSchema.safeParse(raw);
    if (!parsed.success) {
      // A layout the recorder accepted but the composer cannot draw must not lose the archive.
      this.#logger.warn(
        { archiveId: archive.id, issue: parsed.error.issues[0]?.message },
        'composed archive settings are not valid; composing with the defaults',
      );
      parsed = compositionSpecSchema.safeParse({
        ...raw,
        videoLayout: DEFAULT_LAYOUT,
        maxBitrate: null,
        resolution: compositionSpecSchema.safeParse({ resolution }).success ? resolution : '640x480',
      });
    }
    return parsed.success ? parsed.data : null;
  }

  #enqueue(
    archive: ArchiveRecord,
    kind: CompositionKind,
    spec: CompositionSpec,
    hookId: string | null,
  ): CompositionRecord {
    const record = this.#insert(archive, kind, spec, hookId);
    this.#logger.info(
      { compositionId: record.id, archiveId: archive.id, kind, hookId },
      'composition queued',
    );
    queueMicrotask(() => this.#pump());
    return record;
  }

  /** A new composition row, `enqueued`, and its event. */
  #insert(
    archive: ArchiveRecord,
    kind: CompositionKind,
    spec: CompositionSpec,
    hookId: string | null,
  ): CompositionRecord {
    const now = Date.now();
    const record: CompositionRecord = {
      id: randomUUID(),
      archiveId: archive.id,
      roomId: archive.roomId,
      kind,
      hookId,
      status: 'enqueued',
      spec,
      filename: null,
      size: 0,
      duration: 0,
      progress: 0,
      attempts: 0,
      error: null,
      createdAt: now,
      startedAt: null,
      completedAt: null,
      updatedAt: now,
    };
    this.repo.insert(record);
    this.#publish('composition.enqueued', record, {});
    return record;
  }

  // ---- the queue -----------------------------------------------------------------------------

  #pump(): void {
    if (!this.#started || this.#closed) return;
    const limit = Math.max(1, this.#options.settings.compositionConcurrency);
    const skip = new Set(this.#running.keys());
    while (this.#running.size < limit) {
      const next = this.repo.nextEnqueued(skip);
      if (next === null) return;
      const archive = this.#options.archiveStatus.repo.get(next.archiveId);
      if (next.kind === 'archive' && archive !== null && isRecording(archive)) {
        // Waits for the archive to stop (a live composition that failed, or a crash's leftover).
        skip.add(next.id);
        continue;
      }
      skip.add(next.id);
      const job: RunningJob = { abort: new AbortController(), stopReason: null, finished: Promise.resolve() };
      this.#running.set(next.id, job);
      job.finished = this.#run(next, job)
        .catch((error: unknown) =>
          this.#logger.error({ err: error, compositionId: next.id }, 'composition job crashed'),
        )
        .finally(() => {
          this.#running.delete(next.id);
          this.#pump();
        });
    }
  }

  async #run(queued: CompositionRecord, job: RunningJob): Promise<void> {
    const record = this.repo.update(queued.id, {
      status: 'processing',
      startedAt: Date.now(),
      attempts: queued.attempts + 1,
      progress: 0,
      error: null,
    });
    this.#publish('composition.started', record, {});
    const filename =
      record.kind === 'archive' ? 'archive.mp4' : `compositions/${record.id}.${record.spec.format}`;
    const archiveDir = this.#archiveDir(record.archiveId);
    const output = join(archiveDir, filename);
    const onProgress = this.#progressReporter(record);
    try {
      if (this.#composer === null) throw unavailable((this.#options.ffmpeg as Error).message);
      const archive = this.#archive(record.archiveId);
      const canvas = sizeOfResolution(record.spec.resolution);
      mkdirSync(dirname(output), { recursive: true });
      const result = await this.#composer.compose(
        {
          archiveDir,
          manifest: this.#manifest(archive),
          layouts:
            record.kind === 'archive'
              ? this.#layoutTimeline(archive, record.spec.videoLayout, canvas)
              : [{ atMs: 0, layout: record.spec.videoLayout }],
          canvas,
          encode: {
            format: record.spec.format,
            videoCodec: record.spec.videoCodec,
            maxBitrate: record.spec.maxBitrate,
            ...(this.#options.x264Preset !== undefined ? { x264Preset: this.#options.x264Preset } : {}),
          },
          audioSources: record.spec.audioSources,
          audioSourcesExcluded: record.spec.audioSourcesExcluded,
          trim: record.spec.trim,
          video: archive.hasVideo,
          audio: archive.hasAudio,
          output,
        },
        { onProgress, signal: job.abort.signal },
      );
      if (job.stopReason !== null) {
        // Stopped while the file was being renamed into place: treat it as not done.
        if (job.stopReason === 'delete') rmSync(output, { force: true });
        else this.repo.update(record.id, { status: 'enqueued', progress: 0 });
        return;
      }
      this.#complete(record, filename, {
        size: result.size,
        duration: result.duration,
        startMs: result.plan.startMs,
        elapsedMs: result.elapsedMs,
      });
    } catch (error) {
      if (job.stopReason !== null || (error instanceof FfmpegError && error.cancelled)) {
        if (job.stopReason === 'close') {
          this.repo.update(record.id, { status: 'enqueued', progress: 0 });
          this.#logger.info(
            { compositionId: record.id },
            'composition stopped by close; it runs again at the next start',
          );
        }
        return;
      }
      const message = error instanceof Error ? error.message : String(error);
      this.#logger.error(
        { err: error, compositionId: record.id, archiveId: record.archiveId },
        'composition failed',
      );
      this.#fail(this.repo.get(record.id)!, message);
    }
  }

  /** Records a composition's file and marks it completed (and its composed archive available). */
  #complete(
    record: CompositionRecord,
    filename: string,
    result: { size: number; duration: number; startMs: number; elapsedMs: number; live?: LiveResult },
  ): void {
    const live = result.live;
    this.#options.archiveStatus.repo.upsertFile({
      archiveId: record.archiveId,
      streamId: null,
      filename,
      kind: 'composition',
      size: result.size,
      startOffsetMs: Math.round(result.startMs),
      stopOffsetMs: Math.round(result.startMs + result.duration * 1000),
      info: {
        compositionId: record.id,
        compositionKind: record.kind,
        format: record.spec.format,
        resolution: record.spec.resolution,
        duration: result.duration,
        // What the live composition rendered while recording and what was left at stop.
        ...(live !== undefined
          ? {
              live: {
                framesBeforeStop: live.framesBeforeStop,
                framesAfterStop: live.framesAfterStop,
                chunks: live.chunks,
                chunksAfterStop: live.chunksAfterStop,
                finishMs: live.finishMs,
                tail: live.tail,
                prerollSec: live.prerollSec,
              },
            }
          : {}),
      },
    });
    record = this.repo.update(record.id, {
      status: 'completed',
      filename,
      size: result.size,
      duration: result.duration,
      progress: 100,
      completedAt: Date.now(),
    });
    this.#logger.info(
      {
        compositionId: record.id,
        archiveId: record.archiveId,
        duration: result.duration,
        size: result.size,
        ms: result.elapsedMs,
        ...(live !== undefined ? { live: true, framesAfterStop: live.framesAfterStop } : {}),
      },
      'composition completed',
    );
    if (record.kind === 'archive') {
      const current = this.#options.archiveStatus.repo.get(record.archiveId);
      if (current !== null && current.status === 'stopped') {
        // OpenTok: the size of a composed archive is the size of its MP4.
        this.#options.archiveStatus.set(record.archiveId, 'available', { size: result.size });
      }
    }
    this.#publish('composition.available', record, {
      filename,
      size: result.size,
      duration: result.duration,
      format: record.spec.format,
      resolution: record.spec.resolution,
    });
  }

  // ---- live compositions ------------------------------------------------------------------

  /** A composed archive started recording: render it while it records. */
  #startLive(archiveId: string): void {
    if (this.#closed || !this.#started || this.#live.has(archiveId) || this.#composer === null) return;
    if (this.#options.live === false || this.#options.ffmpeg instanceof Error) return;
    const archive = this.#options.archiveStatus.repo.get(archiveId);
    if (archive === null || archive.outputMode !== 'composed' || !isRecording(archive)) return;
    // Live composition follows the whole per-stream files; a split-only archive has none, so it
    // is composed from its split files after stop (the offline path).
    if (archive.options.splitOnly === true) return;
    if (this.repo.forArchive(archive.id).some((c) => c.kind === 'archive' && c.status !== 'deleted')) return;
    const spec = this.#archiveSpec(archive);
    if (spec === null) return;
    const enqueued = this.#insert(archive, 'archive', spec, null);
    const record = this.repo.update(enqueued.id, {
      status: 'processing',
      startedAt: Date.now(),
      attempts: 1,
    });
    this.#publish('composition.started', record, {});
    const canvas = sizeOfResolution(spec.resolution);
    const archiveDir = this.#archiveDir(archive.id);
    const report = this.#progressReporter(record);
    const composition = new LiveComposition({
      ...(this.#options.live ?? {}),
      ffmpeg: this.#options.ffmpeg,
      logger: this.#logger,
      archiveId: archive.id,
      archiveDir,
      output: join(archiveDir, 'archive.mp4'),
      canvas,
      encode: {
        format: 'mp4',
        videoCodec: 'h264',
        maxBitrate: spec.maxBitrate,
        ...(this.#options.x264Preset !== undefined ? { x264Preset: this.#options.x264Preset } : {}),
      },
      video: archive.hasVideo,
      audio: archive.hasAudio,
      archiveStartMs: archive.createdAt,
      files: () => this.#liveFiles(archive.id),
      layouts: () => this.#layoutTimeline(archive, spec.videoLayout, canvas),
      onProgress: (done, total) => {
        // Progress is only meaningful once the length is known (after stop: catching up).
        if (total !== null) report(Math.min(99, Math.floor((done / total) * 100)));
      },
    });
    const live: LiveJob = { recordId: record.id, composition, started: Promise.resolve() };
    this.#live.set(archive.id, live);
    live.started = composition.start().catch((error: unknown) => this.#liveFailed(archive.id, live, error));
    this.#logger.info({ compositionId: record.id, archiveId: archive.id }, 'live composition started');
  }

  /** The archive stopped: the live composition renders the tail and the file is complete. */
  async #finishLive(archive: ArchiveRecord, live: LiveJob): Promise<void> {
    const started = Date.now();
    try {
      await live.started;
      if (this.#live.get(archive.id) !== live) return;
      const result = await live.composition.finish();
      if (this.#live.get(archive.id) !== live) return;
      this.#live.delete(archive.id);
      const record = this.repo.get(live.recordId);
      if (record === null || record.status !== 'processing') return;
      this.#complete(record, 'archive.mp4', {
        size: result.size,
        duration: result.duration,
        startMs: 0,
        elapsedMs: Date.now() - started,
        live: result,
      });
    } catch (error) {
      await this.#liveFailed(archive.id, live, error);
    }
  }

  /** A live composition failed: the archive is composed offline once it has stopped. */
  async #liveFailed(archiveId: string, live: LiveJob, error: unknown): Promise<void> {
    if (this.#live.get(archiveId) !== live) return;
    this.#live.delete(archiveId);
    this.#logger.warn(
      { err: error, archiveId, compositionId: live.recordId },
      'live composition failed; the archive is composed after it stops',
    );
    await live.composition.close();
    if (this.repo.get(live.recordId)?.status === 'processing') {
      this.repo.update(live.recordId, { status: 'enqueued', progress: 0 });
    }
    this.#pump();
  }

  /** Removes what a live composition left behind (a crash). */
  #discardLive(archiveId: string): void {
    const dir = this.#archiveDir(archiveId);
    rmSync(join(dir, 'archive.mp4.part'), { force: true });
    rmSync(join(dir, '.live'), { recursive: true, force: true });
  }

  /** The archive's media files as the recorder has registered them so far. */
  #liveFiles(archiveId: string): LiveFile[] {
    const archiveStart = this.#options.archiveStatus.repo.get(archiveId)?.createdAt;
    return this.#options.archiveStatus.repo
      .files(archiveId)
      .filter((f) => f.kind === 'media')
      .map((f) => ({
        filename: f.filename,
        streamId: f.streamId ?? f.filename,
        startOffsetMs: f.startOffsetMs,
        stopOffsetMs: f.stopOffsetMs,
        connectionData: typeof f.info.connectionData === 'string' ? f.info.connectionData : '',
        videoType: (f.info.videoType as LiveFile['videoType'] | undefined) ?? null,
        ...(typeof f.info.streamCreatedAt === 'number' && archiveStart !== undefined
          ? { joinedMs: f.info.streamCreatedAt - archiveStart }
          : {}),
        ...liveClasses(f.info),
      }));
  }

  #fail(record: CompositionRecord, message: string): void {
    const failed = this.repo.update(record.id, { status: 'failed', error: message, completedAt: Date.now() });
    this.#publish('composition.failed', failed, { error: message });
    if (failed.kind === 'archive') {
      const archive = this.#options.archiveStatus.repo.get(failed.archiveId);
      if (archive !== null && archive.status === 'stopped') {
        this.#options.archiveStatus.set(failed.archiveId, 'failed', { reason: 'failure' });
      }
    }
  }

  #markDeleted(record: CompositionRecord): void {
    if (record.status === 'deleted') return;
    const dir = this.#archiveDir(record.archiveId);
    const filename =
      record.filename ??
      (record.kind === 'archive' ? 'archive.mp4' : `compositions/${record.id}.${record.spec.format}`);
    for (const path of [
      join(dir, filename),
      join(dir, `${filename}.part`),
      join(dir, `${filename}.graph.txt`),
    ]) {
      rmSync(path, { force: true });
    }
    if (record.filename !== null)
      this.#options.archiveStatus.repo.removeFile(record.archiveId, record.filename);
    const deleted = this.repo.update(record.id, { status: 'deleted' });
    this.#publish('composition.deleted', deleted, {});
  }

  // ---- reading archives -------------------------------------------------------------------

  #archive(archiveId: string): ArchiveRecord {
    const archive = this.#options.archiveStatus.repo.get(archiveId);
    if (archive === null || archive.status === 'deleted') {
      throw notFound(`archive ${archiveId} does not exist`, 'archiveId');
    }
    return archive;
  }

  #archiveDir(archiveId: string): string {
    return join(this.#options.dataDir, 'archives', archiveId);
  }

  /** manifest.json, or (when a crash left none) the same facts from the archive's file rows. */
  #manifest(archive: ArchiveRecord): Manifest {
    const path = join(this.#archiveDir(archive.id), 'manifest.json');
    const rows = this.#options.archiveStatus.repo.files(archive.id);
    if (!rows.some((f) => f.kind === 'media') && rows.some((f) => f.kind === 'split')) {
      // splitOnly: no whole files; each split file is a source on the archive's timeline (the
      // splits of a stream follow each other without overlap, so a stream keeps one tile).
      return this.#manifestOf(
        archive,
        rows.filter((f) => f.kind === 'split'),
      );
    }
    if (existsSync(path)) {
      try {
        const manifest = JSON.parse(readFileSync(path, 'utf8')) as Manifest;
        // The manifest counts from when recording began (OpenTok); layout changes count from the
        // start call: bring the files back onto the start call's timeline.
        // (`startCalledAt` is there only when the two differ.) The file rows keep those offsets
        // exactly; the manifest's stop at 0, so a file whose time 0 came before recording began
        // (the first ones, by a few ms) would land that much late — every picture of it a frame
        // off wherever its frames sit near the middle between two output frames.
        const shift =
          typeof manifest.startCalledAt === 'number' ? manifest.createdAt - manifest.startCalledAt : 0;
        if (shift === 0) return manifest;
        const rowOf = new Map(rows.filter((r) => r.kind === 'media').map((r) => [r.filename, r]));
        return {
          ...manifest,
          files: manifest.files.map((f) => {
            const row = rowOf.get(f.filename);
            const changes =
              row?.info.layoutClassChanges !== undefined
                ? classTimeline(row.info.layoutClassChanges)
                : 'layoutClassChanges' in f
                  ? classTimeline(f.layoutClassChanges).map((c) => ({ ...c, atMs: c.atMs + shift }))
                  : undefined;
            return {
              ...f,
              startTimeOffset: row?.startOffsetMs ?? f.startTimeOffset + shift,
              stopTimeOffset:
                row === undefined ? f.stopTimeOffset + shift : (row.stopOffsetMs ?? row.startOffsetMs),
              ...(changes !== undefined ? { layoutClassChanges: changes } : {}),
            };
          }),
        };
      } catch (error) {
        throw new StudioError(
          'Internal',
          `manifest.json of archive ${archive.id} is not valid JSON`,
          'manifest.json',
          {
            cause: error,
          },
        );
      }
    }
    const files = rows.filter((f) => f.kind === 'media');
    if (files.length === 0)
      throw notFound(`archive ${archive.id} has no manifest.json and no recording files`, 'manifest.json');
    return this.#manifestOf(archive, files);
  }

  /** A manifest made from file rows (offsets from the start call, as the rows have them). */
  #manifestOf(archive: ArchiveRecord, files: ArchiveFileRecord[]): Manifest {
    return {
      createdAt: archive.createdAt,
      id: archive.id,
      name: archive.name ?? '',
      partnerId: '',
      sessionId: archive.roomId,
      files: files.map((f) => ({
        streamId: f.streamId ?? f.filename,
        filename: f.filename,
        size: f.size,
        startTimeOffset: f.startOffsetMs,
        stopTimeOffset: f.stopOffsetMs ?? f.startOffsetMs,
        connectionData: typeof f.info.connectionData === 'string' ? f.info.connectionData : '',
        videoType: (f.info.videoType as Manifest['files'][number]['videoType']) ?? null,
        layoutClassList: Array.isArray(f.info.layoutClassList) ? (f.info.layoutClassList as string[]) : [],
        ...(f.info.layoutClassChanges !== undefined
          ? { layoutClassChanges: classTimeline(f.info.layoutClassChanges) }
          : {}),
      })),
    };
  }

  /** The initial layout, then each change made while recording (`layout_changes`). */
  #layoutTimeline(archive: ArchiveRecord, initial: Layout, canvas: Size): TimedLayout[] {
    const timeline: TimedLayout[] = [{ atMs: 0, layout: initial }];
    const rows = this.#options.db
      .prepare('SELECT at_ms, layout FROM layout_changes WHERE archive_id = ? ORDER BY at_ms, id')
      .all(archive.id) as Array<{ at_ms: number; layout: string }>;
    for (const row of rows) {
      let value: unknown;
      try {
        value = JSON.parse(row.layout);
      } catch {
        value = undefined;
      }
      const result = normalizeLayout(value, canvas);
      if ('layout' in result) timeline.push({ atMs: row.at_ms, layout: result.layout });
      else
        this.#logger.warn(
          { archiveId: archive.id, atMs: row.at_ms, issue: result.issues[0]?.message },
          'layout change ignored',
        );
    }
    return timeline;
  }

  // ---- helpers ------------------------------------------------------------------------------

  /** Stores and publishes progress: every 10 % persisted, in between at most once a second. */
  #progressReporter(record: CompositionRecord): (percent: number) => void {
    let lastStep = 0;
    let lastPublish = 0;
    return (percent: number) => {
      const step = Math.floor(percent / 10);
      const now = Date.now();
      if (step > lastStep) {
        lastStep = step;
        lastPublish = now;
        this.repo.update(record.id, { progress: percent });
        this.#publish('composition.progress', record, { percent });
      } else if (now - lastPublish >= PROGRESS_PUBLISH_MS) {
        lastPublish = now;
        this.repo.update(record.id, { progress: percent });
        this.#publish('composition.progress', record, { percent }, false);
      }
    };
  }

  #get(id: string): CompositionRecord {
    const record = this.repo.get(id);
    if (record === null || record.status === 'deleted')
      throw notFound(`composition ${id} does not exist`, 'id');
    return record;
  }

  #hook(id: string): CompositionHookRecord {
    const hook = this.hooks.get(id);
    if (hook === null) throw notFound(`composition hook ${id} does not exist`, 'id');
    return hook;
  }

  #publish<K extends 'composition.enqueued' | 'composition.started' | 'composition.deleted'>(
    type: K,
    record: CompositionRecord,
    extra: Record<string, never>,
    persist?: boolean,
  ): void;
  #publish(
    type: 'composition.progress',
    record: CompositionRecord,
    extra: { percent: number },
    persist?: boolean,
  ): void;
  #publish(
    type: 'composition.failed',
    record: CompositionRecord,
    extra: { error: string },
    persist?: boolean,
  ): void;
  #publish(
    type: 'composition.available',
    record: CompositionRecord,
    extra: {
      filename: string;
      size: number;
      duration: number;
      format: CompositionSpec['format'];
      resolution: string;
    },
    persist?: boolean,
  ): void;
  #publish(type: CompositionEventType, record: CompositionRecord, extra: object, persist = true): void {
    const base: CompositionEventBase = {
      compositionId: record.id,
      archiveId: record.archiveId,
      roomId: record.roomId,
      kind: record.kind,
      hookId: record.hookId,
    };
    // The overloads above tie each event type to its extra fields.
    this.#options.bus.publish(type, { ...base, ...extra } as never, {
      roomId: record.roomId,
      archiveId: record.archiveId,
      persist,
    });
  }
}

type CompositionEventType =
  | 'composition.enqueued'
  | 'composition.started'
  | 'composition.progress'
  | 'composition.available'
  | 'composition.failed'
  | 'composition.deleted';

function hookJson(record: CompositionHookRecord): CompositionHookJson {
  return {
    ...record.spec,
    id: record.id,
    friendlyName: record.friendlyName,
    enabled: record.enabled,
    roomId: record.roomId,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}

/** The archive is still recording (its files grow). */
function isRecording(archive: ArchiveRecord): boolean {
  return archive.status === 'started' || archive.status === 'paused';
}

/** A media file row's layout classes for a live composition: at its start, and each change. */
function liveClasses(info: Record<string, unknown>): Pick<LiveFile, 'classes' | 'classChanges'> {
  const timeline = classTimeline(info.layoutClassChanges);
  if (timeline.length === 0) {
    const list = Array.isArray(info.layoutClassList) ? info.layoutClassList : [];
    return { classes: list.filter((c): c is string => typeof c === 'string'), classChanges: [] };
  }
  return { classes: timeline[0]!.classes, classChanges: timeline.slice(1) };
}
