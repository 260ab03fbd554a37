import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import type { ArchiveJson, ArchiveReason, Manifest, ManifestFile, VideoType } from '../../shared/archive';
import type { ArchiveFileEvent } from '../../shared/events/archives';
import {
  archiveSearchSchema,
  deleteArchivesSchema,
  patchArchiveStreamsSchema,
  startArchiveSchema,
  type BulkDeleteResult,
} from '../../shared/archiveApi';
import { parseLayout } from '../../shared/layout';
import { conflict, notFound, StudioError } from '../../shared/errors';
import type { RecordingState } from '../../shared/signaling';
import { parseWith } from '../../shared/validation';
import type { Settings } from '../config/schema';
import type { ArchiveStatus } from '../events/ArchiveStatus';
import type { EventBus } from '../events/EventBus';
import type { Logger } from '../logger';
import type { Ffmpeg } from '../media/ffmpeg';
import type { LiveRoom } from '../rooms/LiveRoom';
import type { RoomService } from '../rooms/RoomService';
import type { Stream } from '../rooms/Stream';
import type { ArchiveFileRecord, ArchiveRecord, ArchiveRepository } from '../store/ArchiveRepository';
import { faultPoint } from '../util/fault';
import { ActiveArchive } from './ActiveArchive';
import type { OpenSink } from './MatroskaWriter';
import { probeStreams, remux } from './remux';
import type { LocalMedia } from '../rooms/loadLocalMedia';
import type { RecordedFile } from './StreamRecorder';
import { describeWriteError } from './writeErrors';
import { addDrops } from './TrackStats';
import { WorkerRecorder, type Recorder } from './WorkerRecorder';
import { WorkerRecorders } from './WorkerRecorders';
import type { WorkerPool } from '../workers/WorkerPool';
import type { MediaWorker } from '../workers/MediaWorker';
import { WriteBudget } from './WriteBudget';
import { guarded } from '../util/guarded';

export interface RecordingServiceOptions {
  db: BetterSqlite3.Database;
  bus: EventBus;
  logger: Logger;
  settings: Settings;
  dataDir: string;
  rooms: RoomService;
  archiveStatus: ArchiveStatus;
  /** The ffmpeg in use (remux to MP4, crash recovery), or why there is none. */
  ffmpeg: () => Ffmpeg | Error;
  /** Why new archives cannot start now (the disk is full), or null. */
  refusal?: () => string | null;
  /** A recording file could not be written ("disk full"): the disk monitor hears of it. */
  onWriteError?: (detail: string) => void;
  /** Opens recording files (tests inject a slow disk). */
  openSink?: OpenSink;
  /** Media worker threads: streams received there are recorded there (docs/threads.md). */
  media?: WorkerPool | null;
  /** The media plane on this thread (`mediaWorkers: 0`): records the streams received here. */
  local?: LocalMedia | null;
}

/** Archive ids are UUIDs, as OpenTok's; anything else is refused before touching the disk. */
const ARCHIVE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Codecs an MP4 file can hold when copied (ffmpeg 5.1 cannot put VP8 in MP4). */
const MP4_VIDEO = new Set(['H264', 'VP9', 'AV1']);

/**
 * Archives: the OpenTok lifecycle (started ⇄ paused → stopped → available / failed, deleted),
 * limits, automatic archives of autoRecord rooms, per-stream recorders, the manifest, and
 * recovery of archives a crash interrupted.
 */
export class RecordingService {
  readonly #options: RecordingServiceOptions;
  readonly #logger: Logger;
  readonly #repo: ArchiveRepository;
  readonly #status: ArchiveStatus;
  readonly #active = new Map<string, ActiveArchive>();
  readonly #roomListeners = new Map<string, Array<() => void>>();
  /** The stream each recorder records (it outlives the stream's place in the room). */
  readonly #streamOf = new WeakMap<Recorder, Stream>();
  /** Recorders on media workers (`mediaWorkers` > 0), or null. */
  readonly #workerRecorders: WorkerRecorders | null;
  /** Rooms whose automatic archive is being started. */
  readonly #autoStarting = new Set<string>();
  readonly #limits: NodeJS.Timeout;
  /** Bytes queued for the disk across every recorder. */
  readonly budget: WriteBudget;
  #closed = false;

  constructor(options: RecordingServiceOptions) {
    this.#options = options;
    this.#logger = options.logger;
    this.#status = options.archiveStatus;
    this.#repo = options.archiveStatus.repo;
    mkdirSync(this.archivesDir, { recursive: true });
    // One queue for the studio: with media workers, this thread's and theirs count together.
    this.budget = new WriteBudget(
      options.settings.recordingQueueBytes,
      options.media ? { slots: options.media.queueSlots, index: 0 } : undefined,
    );
    this.#workerRecorders = options.media ? new WorkerRecorders(options.media) : null;
    // A worker that starts (first use, or after a death) while the disk is full starts halted.
    options.media?.on('workerStarted', (worker) => {
      const halted = this.budget.halted;
      if (halted !== null) this.#haltWorker(worker, halted);
    });
    options.rooms.on('sessionStarted', (room) => this.#onSessionStarted(room));
    options.rooms.on('sessionEnded', (room) => this.#onSessionEnded(room));
    options.rooms.setRecordingControl({
      start: async (roomId, body) => {
        const room = options.rooms.record(roomId);
        const defaults = room.settings.recording;
        // The room's resolution only for a composed archive (the moderator may ask for another mode).
        const outputMode = body.outputMode ?? defaults.outputMode;
        const json = await this.start({
          outputMode: defaults.outputMode,
          streamMode: defaults.streamMode,
          format: defaults.format,
          hasAudio: defaults.hasAudio,
          hasVideo: defaults.hasVideo,
          ...(outputMode === 'composed' ? { resolution: defaults.resolution } : {}),
          ...(defaults.name !== undefined ? { name: defaults.name } : {}),
          ...(defaults.splitDuration !== undefined ? { splitDuration: defaults.splitDuration } : {}),
          ...(defaults.splitOnly !== undefined ? { splitOnly: defaults.splitOnly } : {}),
          ...body,
          sessionId: roomId,
        });
        return { id: json.id };
      },
      stop: async (roomId, archiveId) => {
        const targets = [...this.#active.values()].filter(
          (a) => a.record.roomId === roomId && (archiveId === undefined || a.id === archiveId),
        );
        if (targets.length === 0) throw conflict('nothing is recording in this room', 'archiveId');
        await Promise.all(targets.map((a) => this.#stop(a, 'user initiated')));
      },
      state: (roomId) => this.state(roomId),
      keepSessionSec: (roomId) =>
        this.#archivesOf(roomId).some((a) => a.record.options.auto)
          ? this.#options.settings.autoArchiveStopSec
          : 0,
    });
    this.#limits = setInterval(() => {
      // A timer that touches the store must never take the process down with it.
      try {
        this.#checkLimits();
      } catch (error) {
        this.#logger.error({ err: error }, 'checking archive limits failed');
      }
    }, 1000);
    this.#limits.unref();
  }

  get archivesDir(): string {
    return join(this.#options.dataDir, 'archives');
  }

  /** The folder of an archive (the id is checked, so it never leaves the archives folder). */
  archiveDir(id: string): string {
    if (!ARCHIVE_ID.test(id)) throw notFound(`archive ${id} does not exist`, 'archiveId');
    return join(this.archivesDir, id);
  }

  /** Archives recording a room now, for the recording indicator. */
  state(roomId: string): RecordingState {
    const archives = [...this.#active.values()]
      .filter((a) => a.record.roomId === roomId && !a.ended)
      .map((a) => ({
        id: a.id,
        name: a.record.name,
        status: a.record.status,
        createdAt: a.record.createdAt,
      }));
    return { active: archives.length > 0, archives };
  }

  // ---- API --------------------------------------------------------------------------------

  /** Starts an archive (`POST /v2/project/{apiKey}/archive`). */
  async start(body: unknown, internal: { auto?: boolean; replaces?: string } = {}): Promise<ArchiveJson> {
    const auto = internal.auto ?? false;
    if (this.#closed) throw new StudioError('Unavailable', 'the studio is shutting down');
    const refusal = this.#options.refusal?.() ?? null;
    if (refusal !== null) throw new StudioError('Unavailable', `an archive cannot start now: ${refusal}`);
    const input = parseWith(startArchiveSchema, body, 'archive');
    const room = this.#sessionRoom(input.sessionId);
    const live = this.#options.rooms.live(room.id);
    if (live === undefined || live.participants.size === 0) {
      throw new StudioError(
        'InvalidArgument',
        `no clients are connected to session ${room.id}; an archive can start once someone has joined`,
        'sessionId',
      );
    }
    const tag = input.multiArchiveTag ?? null;
    const clash = [...this.#active.values()].find(
      (a) =>
        a.record.roomId === room.id &&
        !a.ended &&
        a.record.multiArchiveTag === tag &&
        a.id !== internal.replaces,
    );
    if (clash !== undefined) {
      throw conflict(
        tag === null
          ? `session ${room.id} is already being recorded (archive ${clash.id}); set a unique multiArchiveTag to record it again at the same time`
          : `an archive with multiArchiveTag "${tag}" is already recording session ${room.id}`,
        'multiArchiveTag',
      );
    }
    const outputMode = input.outputMode ?? 'composed';
    // RefArch: resolution and maxBitrate are only for composed archives; an individual-stream
    // archive records each stream as sent, so either would be silently ignored.
    for (const field of ['resolution', 'maxBitrate'] as const) {
      if (outputMode === 'individual' && input[field] !== undefined) {
        throw new StudioError(
          'InvalidArgument',
          `${field} applies to composed archives only; leave it out for outputMode "individual"`,
          field,
        );
      }
    }
    const resolution = outputMode === 'composed' ? (input.resolution ?? '640x480') : null;
    const layout =
      input.layout === undefined
        ? undefined
        : withinField('layout', () =>
            parseLayout(input.layout, 'layout', canvasOf(resolution ?? '1280x720')),
          );
    const expireAt =
      input.expireTime === undefined
        ? null
        : typeof input.expireTime === 'number'
          ? input.expireTime
          : Date.parse(input.expireTime);
    if (expireAt !== null && expireAt <= Date.now())
      throw new StudioError('InvalidArgument', 'expireTime is in the past', 'expireTime');
    if (input.splitOnly && input.splitDuration === undefined) {
      throw new StudioError('InvalidArgument', 'splitOnly needs splitDuration', 'splitOnly');
    }
    const now = Date.now();
    const record: ArchiveRecord = {
      id: randomUUID(),
      roomId: room.id,
      sessionId: live.session.id,
      name: input.name ?? null,
      status: 'started',
      reason: '',
      outputMode,
      streamMode: input.streamMode ?? 'auto',
      hasAudio: input.hasAudio ?? true,
      hasVideo: input.hasVideo ?? true,
      resolution,
      multiArchiveTag: tag,
      format: input.format ?? room.settings.recording.format,
      options: {
        ...(input.splitDuration !== undefined ? { splitDuration: input.splitDuration } : {}),
        ...(input.splitOnly !== undefined ? { splitOnly: input.splitOnly } : {}),
        ...(input.recordingMetadata !== undefined ? { recordingMetadata: input.recordingMetadata } : {}),
        ...(input.maxBitrate !== undefined ? { maxBitrate: input.maxBitrate } : {}),
        ...(layout !== undefined ? { layout } : {}),
        ...(auto ? { auto: true } : {}),
      },
      size: 0,
      duration: 0,
      expireAt,
      createdAt: now,
      stoppedAt: null,
      updatedAt: now,
    };
    if (!record.hasAudio && !record.hasVideo) {
      throw new StudioError('InvalidArgument', 'an archive needs audio, video or both', 'hasAudio');
    }
    const dir = join(this.archivesDir, record.id);
    mkdirSync(dir, { recursive: true });
    this.#repo.insert(record);
    const active = new ActiveArchive(record, live, dir);
    this.#active.set(record.id, active);
    this.#watchRoom(live);
    // Recorders first, then the status: `started` (event and callbacks) lists the streams being
    // archived, which recording each one stores. The row is already in the store (`started`, so
    // a crash from here on is recovered), and no file can be announced before this returns.
    for (const stream of live.streams.values()) this.#record(active, stream);
    this.#status.set(record.id, 'started');
    this.#logger.info({ archiveId: record.id, roomId: room.id, outputMode, auto }, 'archive started');
    // OpenTok answers a start with "started"; an archive with nothing to record pauses after.
    const json = this.#status.json(record.id);
    this.#broadcast(active, 'started');
    setImmediate(guarded(this.#logger, 'archive state', () => this.#refreshState(active)));
    return json;
  }

  /** The room of an OpenTok session id: an unknown one is named as the session the caller gave. */
  #sessionRoom(sessionId: string): ReturnType<RoomService['record']> {
    try {
      return this.#options.rooms.record(sessionId);
    } catch (error) {
      if (error instanceof StudioError && error.code === 'NotFound')
        throw notFound(`session ${sessionId} does not exist`, 'sessionId');
      throw error;
    }
  }

  /** Stops an archive (`POST archive/{id}/stop`). */
  async stop(id: string): Promise<ArchiveJson> {
    const active = this.#active.get(id);
    if (active === undefined) {
      const record = this.#repo.get(id);
      if (record === null || record.status === 'deleted')
        throw notFound(`archive ${id} does not exist`, 'archiveId');
      throw conflict(`archive ${id} is not recording (status ${record.status})`, 'archiveId');
    }
    if (active.record.options.auto) {
      // OpenTok: automatic archives stop with their session, not by API.
      throw conflict(
        `archive ${id} is an automatic archive of an autoRecord room; it stops when the session ends`,
        'archiveId',
      );
    }
    return this.#stop(active, 'user initiated');
  }

  /**
   * The operator stops an archive (`POST /api/archives/{id}/stop`): an automatic archive is
   * stopped too, and automatic recording is turned off for its room so it does not restart.
   */
  async stopByOperator(id: string): Promise<ArchiveJson> {
    const active = this.#active.get(id);
    if (active?.record.options.auto) {
      const room = this.#options.rooms.record(active.record.roomId);
      if (room.settings.autoRecord) this.#options.rooms.update(room.id, { autoRecord: false });
      return this.#stop(active, 'user initiated');
    }
    return this.stop(id);
  }

  get(id: string): ArchiveJson {
    return this.#status.json(id);
  }

  list(query: { offset?: unknown; count?: unknown; sessionId?: unknown }): {
    count: number;
    items: ArchiveJson[];
  } {
    const number = (v: unknown, field: string, max: number, fallback: number) => {
      if (v === undefined || v === '') return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > max)
        throw new StudioError('InvalidArgument', `${field} must be a whole number from 0 to ${max}`, field);
      return n;
    };
    // A repeated parameter arrives as an array: refused, as for count, not read as no filter.
    const sessionId = query.sessionId;
    if (sessionId !== undefined && typeof sessionId !== 'string') {
      throw new StudioError('InvalidArgument', 'sessionId must be given at most once', 'sessionId');
    }
    const result = this.#repo.list({
      offset: number(query.offset, 'offset', 1_000_000, 0),
      count: number(query.count, 'count', 1000, 50),
      ...(sessionId !== undefined && sessionId !== '' ? { roomId: sessionId } : {}),
    });
    return { count: result.count, items: result.items.map((r) => this.#status.restJson(r)) };
  }

  /** `GET /api/archives`: newest first, filtered by status, created range and room. */
  search(query: unknown): { count: number; items: ArchiveJson[] } {
    const q = parseWith(archiveSearchSchema, query ?? {}, 'query');
    const result = this.#repo.list({
      offset: q.offset,
      count: q.count,
      ...(q.roomId !== undefined ? { roomId: q.roomId } : {}),
      ...(q.status !== undefined ? { statuses: q.status } : {}),
      ...(q.createdFrom !== undefined ? { createdFrom: q.createdFrom } : {}),
      ...(q.createdTo !== undefined ? { createdTo: q.createdTo } : {}),
    });
    return { count: result.count, items: result.items.map((r) => this.#status.restJson(r)) };
  }

  /** `POST /api/archives/delete`: deletes each archive it can; says why for the others. */
  deleteMany(body: unknown): { items: BulkDeleteResult[] } {
    const { ids } = parseWith(deleteArchivesSchema, body, 'archives');
    return {
      items: [...new Set(ids)].map((id) => {
        try {
          this.delete(id);
          return { id, deleted: true };
        } catch (error) {
          if (error instanceof StudioError) return { id, deleted: false, error: error.message };
          throw error;
        }
      }),
    };
  }

  /** Deletes an archive that is not recording: its files go, its status becomes `deleted`. */
  delete(id: string): void {
    const record = this.#repo.get(id);
    if (record === null || record.status === 'deleted')
      throw notFound(`archive ${id} does not exist`, 'archiveId');
    if (this.#active.has(id) || record.status === 'started' || record.status === 'paused') {
      throw conflict(`archive ${id} is still recording; stop it first`, 'archiveId');
    }
    rmSync(this.archiveDir(id), { recursive: true, force: true });
    this.#status.set(id, 'deleted');
  }

  /** Manual stream mode: adds or removes a stream (`PATCH archive/{id}/streams`). */
  patchStreams(id: string, body: unknown): void {
    const input = parseWith(patchArchiveStreamsSchema, body, 'streams');
    const active = this.#active.get(id);
    const record = active?.record ?? this.#repo.get(id);
    if (record === null || record === undefined || record.status === 'deleted')
      throw notFound(`archive ${id} does not exist`, 'archiveId');
    if (record.streamMode !== 'manual') {
      throw new StudioError(
        'InvalidArgument',
        `archive ${id} uses streamMode "auto"; streams can be chosen only in "manual" mode`,
        'streamMode',
      );
    }
    if (active === undefined) throw conflict(`archive ${id} is not recording`, 'archiveId');
    if (input.addStream !== undefined) {
      const stream = active.room.streams.get(input.addStream);
      if (stream === undefined)
        throw notFound(`stream ${input.addStream} is not published in session ${record.roomId}`, 'addStream');
      active.selected.set(stream.id, {
        streamId: stream.id,
        hasAudio: input.hasAudio ?? true,
        hasVideo: input.hasVideo ?? true,
      });
      this.#repo.setStream(id, {
        streamId: stream.id,
        hasAudio: input.hasAudio ?? true,
        hasVideo: input.hasVideo ?? true,
      });
      // A changed selection of a recorded stream starts a new segment with the new tracks.
      void this.#endSegment(active, stream.id)
        .then(() => {
          this.#record(active, stream);
          this.#refreshState(active);
        })
        .catch(this.#logError(active, 'cannot start the new segment'));
    } else if (input.removeStream !== undefined) {
      if (!active.selected.has(input.removeStream)) {
        throw notFound(`stream ${input.removeStream} is not in archive ${id}`, 'removeStream');
      }
      active.selected.delete(input.removeStream);
      void this.#endSegment(active, input.removeStream)
        .then(() => this.#refreshState(active))
        .catch(this.#logError(active, 'cannot update the archive state'));
    }
  }

  /**
   * Stores a layout change with its time in the archive (`PUT archive/{id}/layout`) and returns
   * that time: ms from the archive's start (0 once it has stopped), where the composition switches.
   */
  setLayout(id: string, body: unknown): { atMs: number } {
    const record = this.#repo.get(id);
    if (record === null || record.status === 'deleted')
      throw notFound(`archive ${id} does not exist`, 'archiveId');
    if (record.outputMode !== 'composed') {
      throw new StudioError(
        'InvalidArgument',
        `archive ${id} is an individual-stream archive; layouts apply to composed archives`,
        'outputMode',
      );
    }
    // OpenTok's layout object or the studio's regions, checked against the archive's canvas.
    const layout = parseLayout(body, 'layout', canvasOf(record.resolution ?? '640x480'));
    const atMs =
      record.status === 'started' || record.status === 'paused' ? Date.now() - record.createdAt : 0;
    this.#options.db
      .prepare('INSERT INTO layout_changes (archive_id, at_ms, layout) VALUES (?, ?, ?)')
      .run(id, atMs, JSON.stringify(layout));
    return { atMs };
  }

  // ---- recording ----------------------------------------------------------------------------

  #watchRoom(room: LiveRoom): void {
    if (this.#roomListeners.has(room.id)) return;
    const onStream = (stream: Stream) => {
      for (const active of this.#archivesOf(room.id)) {
        this.#record(active, stream);
        this.#refreshState(active);
      }
    };
    const onStreamGone = (stream: Stream) => {
      for (const active of this.#archivesOf(room.id)) {
        void this.#endSegment(active, stream.id)
          .then(() => this.#refreshState(active))
          .catch(this.#logError(active, 'cannot update the archive state'));
      }
    };
    const onStreamUpdated = (stream: Stream) => {
      for (const active of this.#archivesOf(room.id)) this.#classesChanged(active, stream);
    };
    room.on('streamAdded', onStream);
    room.on('streamRemoved', onStreamGone);
    room.on('streamUpdated', onStreamUpdated);
    this.#roomListeners.set(room.id, [
      () => room.off('streamAdded', onStream),
      () => room.off('streamRemoved', onStreamGone),
      () => room.off('streamUpdated', onStreamUpdated),
    ]);
  }

  /**
   * A stream's layout classes changed (`PUT …/session/{id}/stream`, the program view): the files
   * it is recording into keep when (`layoutClassChanges`, from the file's start on), so a
   * composition — live or offline — switches at that moment, like a layout change.
   */
  #classesChanged(active: ActiveArchive, stream: Stream): void {
    if (!active.recorders.has(stream.id)) return;
    const atMs = Date.now() - active.record.createdAt;
    const classes = [...stream.layoutClassList];
    for (const file of this.#repo.files(active.id)) {
      if (file.streamId !== stream.id || file.kind !== 'media' || file.stopOffsetMs !== null) continue;
      const before = Array.isArray(file.info.layoutClassList) ? (file.info.layoutClassList as string[]) : [];
      if (before.length === classes.length && before.every((c, i) => c === classes[i])) continue;
      const timeline = Array.isArray(file.info.layoutClassChanges)
        ? (file.info.layoutClassChanges as Array<{ atMs: number; classes: string[] }>)
        : [{ atMs: file.startOffsetMs, classes: before }];
      this.#repo.upsertFile({
        ...file,
        info: {
          ...file.info,
          layoutClassList: classes,
          layoutClassChanges: [...timeline, { atMs: Math.max(file.startOffsetMs, atMs), classes }],
        },
      });
    }
  }

  /** A full disk: every recorder stops writing at a whole cluster, on this thread and on the media workers. */
  #haltWrites(error: Error): void {
    this.budget.halt(error);
    for (const worker of this.#options.media?.workers() ?? []) this.#haltWorker(worker, error);
  }

  #haltWorker(worker: MediaWorker, error: Error): void {
    const code = (error as NodeJS.ErrnoException).code;
    worker
      .request('budget.halt', { message: error.message, ...(code !== undefined ? { code } : {}) })
      .catch((failure: Error) =>
        this.#logger.warn({ err: failure }, "could not halt a media worker's writes"),
      );
  }

  /**
   * A file its writer could not finalize (its media worker died): rewritten by ffmpeg from what
   * reached the disk (duration, index), its duration probed. Without ffmpeg it is kept as it is.
   */
  async #repairFile(active: ActiveArchive, file: RecordedFile): Promise<RecordedFile> {
    const path = join(active.dir, file.filename);
    const ffmpeg = this.#options.ffmpeg();
    let durationMs = file.durationMs;
    if (!(ffmpeg instanceof Error)) {
      const repaired = `${path}.repair${file.filename.slice(file.filename.lastIndexOf('.'))}`;
      try {
        await remux(ffmpeg, path, repaired, false);
        renameSync(repaired, path);
      } catch (error) {
        rmSync(repaired, { force: true });
        this.#logger.warn({ err: error, file: file.filename }, 'file could not be repaired; kept as it is');
      }
      const probed = await probeStreams(ffmpeg, path).catch(() => null);
      if (probed !== null) durationMs = Math.round(probed.duration * 1000);
    }
    const size = existsSync(path) ? statSync(path).size : 0;
    return { ...file, size, durationMs, stopOffsetMs: file.startOffsetMs + durationMs };
  }

  /** Media bytes written by every recorder (this thread's and the media workers'). */
  get writtenBytes(): number {
    return this.budget.totalBytes + (this.#workerRecorders?.totalBytes ?? 0);
  }

  /** Media bytes waiting for the disk, across threads (read from the shared queue: current). */
  get queuedBytes(): number {
    return this.budget.studioQueuedBytes;
  }

  /** The highest write queue seen (the main thread's, or a worker's). */
  get peakQueuedBytes(): number {
    return Math.max(this.budget.peakBytes, this.#workerRecorders?.peakBytes ?? 0);
  }

  /** The disk has room again: every recorder writes again (this thread and the media workers). */
  resumeWrites(): void {
    this.budget.resume();
    for (const worker of this.#options.media?.workers() ?? [])
      worker.request('budget.resume', {}).catch(() => {});
  }

  #logError(active: ActiveArchive, what: string): (error: unknown) => void {
    return (error) => this.#logger.error({ err: error, archiveId: active.id }, what);
  }

  #archivesOf(roomId: string): ActiveArchive[] {
    return [...this.#active.values()].filter((a) => a.record.roomId === roomId && !a.ended);
  }

  /** Starts a recorder for a stream when the archive should record it. */
  #record(active: ActiveArchive, stream: Stream): void {
    if (active.ended || active.recorders.has(stream.id) || stream.closed) return;
    const pick = active.selection(stream);
    if (pick === null) return;
    const segment = active.segments.get(stream.id) ?? 0;
    active.segments.set(stream.id, segment + 1);
    if (active.record.streamMode === 'auto') this.#repo.setStream(active.id, pick);
    const { splitDuration, splitOnly } = active.record.options;
    const logger = this.#logger.child({ archiveId: active.id, streamId: stream.id });
    const onFileStarted = (file: RecordedFile) => {
      this.#saveFile(active.id, stream, file, segment, null);
      this.#fileStarted(active, file);
    };
    // A file that cannot be written stops the whole archive at once, finalized as far as it got.
    const onWriteError = (error: Error) => {
      const detail = describeWriteError(error);
      active.writeError ??= detail;
      // A full disk is full for every file: the others stop writing too, at a whole cluster.
      if (detail === 'disk full') this.#haltWrites(error);
      void this.#stop(active, 'failure', detail);
      this.#options.onWriteError?.(detail);
    };
    const onFileFinished = (file: RecordedFile) => {
      this.#saveFile(active.id, stream, file, null, file.stopOffsetMs);
      // MP4 archives are remuxed at the end (new names): their files are announced then.
      if (active.record.format !== 'mp4') this.#announceFile(active.id, file.filename);
    };
    const repair = (file: RecordedFile) => this.#repairFile(active, file);
    const split =
      splitDuration !== undefined ? { split: { durationSec: splitDuration, only: splitOnly ?? false } } : {};
    const baseName = segment === 0 ? stream.id : `${stream.id}_${segment}`;
    const worker = this.#workerRecorders === null ? null : this.#options.rooms.workerOfStream(stream.id);
    // What a recorder writes, wherever it runs.
    const files = {
      dir: active.dir,
      baseName,
      format: active.record.format,
      audio: pick.hasAudio,
      video: pick.hasVideo,
      ...split,
      archiveStartMs: active.record.createdAt,
      keyframeIntervalSec: this.#options.settings.keyframeIntervalSec,
    };
    let recorder: Recorder;
    if (worker !== null && this.#workerRecorders !== null && this.#options.media) {
      // The stream is received on a media worker: its recorder runs there (docs/threads.md).
      const remote = new WorkerRecorder(
        worker,
        {
          streamId: stream.id,
          ...files,
          queueBytes: this.#options.settings.recordingQueueBytes,
        },
        {
          onFileStarted,
          onFileFinished,
          onWriteError,
          repair,
          onStartRefused: (error) => this.#recorderRefused(active, stream, remote, error),
        },
        logger,
      );
      this.#workerRecorders.add(remote);
      recorder = remote;
    } else {
      if (!this.#options.local) throw new Error(`no media plane can record stream ${stream.id}`);
      recorder = new this.#options.local.StreamRecorder({
        stream,
        ...files,
        logger,
        onFileStarted,
        budget: this.budget,
        ...(this.#options.openSink ? { openSink: this.#options.openSink } : {}),
        onWriteError,
        onFileFinished,
      });
    }
    this.#streamOf.set(recorder, stream);
    active.recorders.set(stream.id, recorder);
    active.firstRecorderAt ??= Date.now();
  }

  /**
   * A media worker refused a stream's recorder. A stream that ended meanwhile (its end and the
   * refusal crossed), or an archive that is stopping, has nothing more to record. Otherwise the
   * stream goes unrecorded — the worker and this thread disagree about it, which the ordering
   * contract should rule out — and that must not be silent: the archive records the others, and
   * its stop says `failure` with the stream named (its files stay available: the others are
   * whole). The segment ends, so a later change of the stream (a reconnect) records it again.
   */
  #recorderRefused(active: ActiveArchive, stream: Stream, recorder: Recorder, error: Error): void {
    const current = active.recorders.get(stream.id) === recorder;
    if (stream.closed || active.ended) {
      this.#logger.info(
        { archiveId: active.id, streamId: stream.id, reason: error.message },
        stream.closed
          ? 'the stream ended before its recorder started'
          : 'the archive stopped before the stream’s recorder started',
      );
    } else {
      this.#logger.error(
        { err: error, archiveId: active.id, streamId: stream.id },
        'the media worker refused to record the stream',
      );
      active.failureDetail ??= `stream ${stream.id} could not be recorded: ${error.message}`;
    }
    if (current) void this.#endSegment(active, stream.id);
  }

  /**
   * Recording effectively began no later than any file starts: the manifest counts its offsets
   * from then, and a file starting before it would lose its head from its offsets (its start
   * clamped to 0, its stop not). Under load the state refresh that stamps the time runs late.
   */
  #fileStarted(active: ActiveArchive, file: RecordedFile): void {
    const startedAt = active.record.options.recordingStartedAt;
    const fileStart = active.record.createdAt + file.startOffsetMs;
    if (startedAt !== undefined && startedAt <= fileStart) return;
    active.record = this.#repo.update(active.id, {
      options: { ...active.record.options, recordingStartedAt: fileStart },
    });
  }

  /**
   * Finalizes a stream's current segment. The segment leaves the recorders at once (nothing new
   * is written to it) but stays in `finishing` until its files are final: a stop awaits it.
   */
  #endSegment(active: ActiveArchive, streamId: string): Promise<void> {
    const recorder = active.recorders.get(streamId);
    if (recorder === undefined) return Promise.resolve();
    active.recorders.delete(streamId);
    for (const drops of Object.values(recorder.framesDropped)) addDrops(active.droppedEnded, drops);
    if (active.record.streamMode === 'auto') this.#repo.removeStream(active.id, streamId);
    const stream = this.#streamOf.get(recorder) ?? active.room.streams.get(streamId);
    const done = (async () => {
      const files = await recorder.stop();
      if (recorder instanceof WorkerRecorder) this.#workerRecorders?.remove(recorder);
      for (const file of files) {
        this.#saveFile(active.id, stream, file, null, file.stopOffsetMs);
        if (file.error !== undefined) active.writeError ??= file.error;
      }
      if (active.record.format !== 'mp4') {
        const names = new Set(files.filter((f) => f.kind === 'split').map((f) => f.filename));
        this.#announceSplitEnd(
          active.id,
          this.#repo.files(active.id).filter((f) => names.has(f.filename)),
        );
      }
    })();
    const tracked = done.catch((error: unknown) => {
      this.#logger.error({ err: error, archiveId: active.id, streamId }, 'segment could not be finalized');
      active.writeError ??= 'the recording could not be finalized';
    });
    active.finishing.add(tracked);
    void tracked.finally(() => active.finishing.delete(tracked));
    return tracked;
  }

  // ---- per-file events and metadata ----------------------------------------------------------

  /** Writes `<file>.json` beside a finalized file and publishes its per-file event(s). */
  #announceFile(archiveId: string, filename: string): void {
    const record = this.#repo.get(archiveId);
    const row = this.#repo.files(archiveId).find((f) => f.filename === filename);
    if (record === null || row === undefined || (row.kind !== 'media' && row.kind !== 'split')) return;
    let metadataFilename: string;
    try {
      metadataFilename = this.#writeMetadata(record, row);
    } catch (error) {
      this.#logger.error({ err: error, archiveId, file: filename }, 'metadata file could not be written');
      return;
    }
    const payload = this.#fileEvent(record, row, metadataFilename);
    const options = { roomId: record.roomId, archiveId };
    this.#options.bus.publish('archive.file.available', payload, options);
    if (payload.splitIndex !== undefined)
      this.#options.bus.publish(
        'split-archive.available',
        { ...payload, splitIndex: payload.splitIndex },
        options,
      );
  }

  /** After the last split file of a stream segment: `split-archive-end.available` and its JSON. */
  #announceSplitEnd(archiveId: string, splits: ArchiveFileRecord[]): void {
    const record = this.#repo.get(archiveId);
    if (record === null || splits.length === 0) return;
    const sorted = [...splits].sort(
      (a, b) => (splitIndexOf(a.filename) ?? 0) - (splitIndexOf(b.filename) ?? 0),
    );
    const last = sorted.at(-1)!;
    const first = sorted[0]!;
    const lastIndex = splitIndexOf(last.filename) ?? sorted.length;
    const endName = last.filename.replace(/_\d{4,}\.(webm|mkv|mp4)$/, '_end.json');
    const body = {
      ...soraMetadata(record, { ...last, startOffsetMs: first.startOffsetMs }, this.#options.settings.apiKey),
      split_last_index: String(lastIndex).padStart(4, '0'),
      filename: `${record.id}/${endName}`,
      files: sorted.map((f) => f.filename),
    };
    delete (body as Record<string, unknown>).split_index;
    delete (body as Record<string, unknown>).size;
    delete (body as Record<string, unknown>).metadata_filename;
    this.#writeJson(record.id, endName, body, last.streamId);
    const base = this.#fileEvent(record, last, endName);
    this.#options.bus.publish(
      'split-archive-end.available',
      {
        archiveId: base.archiveId,
        roomId: base.roomId,
        streamId: base.streamId,
        connectionId: base.connectionId,
        filename: endName,
        metadataFilename: endName,
        startTimeOffset: first.startOffsetMs,
        stopTimeOffset: base.stopTimeOffset,
        path: `/files/${record.id}/${endName}`,
        splitLastIndex: lastIndex,
        files: sorted.map((f) => f.filename),
      },
      { roomId: record.roomId, archiveId: record.id },
    );
  }

  #fileEvent(record: ArchiveRecord, row: ArchiveFileRecord, metadataFilename: string): ArchiveFileEvent {
    const splitIndex = row.kind === 'split' ? splitIndexOf(row.filename) : undefined;
    return {
      archiveId: record.id,
      roomId: record.roomId,
      streamId: row.streamId,
      connectionId: typeof row.info.connectionId === 'string' ? row.info.connectionId : null,
      filename: row.filename,
      metadataFilename,
      kind: row.kind === 'split' ? 'split' : 'media',
      size: row.size,
      startTimeOffset: row.startOffsetMs,
      stopTimeOffset: row.stopOffsetMs ?? row.startOffsetMs,
      path: `/files/${record.id}/${row.filename}`,
      ...(splitIndex !== undefined ? { splitIndex } : {}),
    };
  }

  /** `<file>.json`: Sora's recording metadata fields (its units) plus the studio's. */
  #writeMetadata(record: ArchiveRecord, row: ArchiveFileRecord): string {
    const name = `${row.filename}.json`;
    this.#writeJson(record.id, name, soraMetadata(record, row, this.#options.settings.apiKey), row.streamId);
    return name;
  }

  #writeJson(archiveId: string, name: string, body: unknown, streamId: string | null): void {
    const path = join(this.archiveDir(archiveId), name);
    writeFileSync(`${path}.tmp`, `${JSON.stringify(body, null, 2)}\n`);
    renameSync(`${path}.tmp`, path);
    this.#repo.upsertFile({
      archiveId,
      streamId,
      filename: name,
      kind: 'metadata',
      size: statSync(path).size,
      startOffsetMs: 0,
      stopOffsetMs: null,
      info: {},
    });
  }

  #saveFile(
    archiveId: string,
    stream: Stream | undefined,
    file: RecordedFile,
    segment: number | null,
    stop: number | null,
  ): void {
    const existing = this.#repo.files(archiveId).find((f) => f.filename === file.filename);
    const info = {
      ...(existing?.info ?? {}),
      ...(stream
        ? {
            connectionId: stream.connectionId,
            connectionData: stream.connectionData,
            videoType: stream.videoType,
          }
        : {}),
      ...(stream ? { layoutClassList: [...stream.layoutClassList], streamCreatedAt: stream.createdAt } : {}),
      audioCodec: file.audioCodec,
      videoCodec: file.videoCodec,
      container: file.container,
      ...(file.error !== undefined ? { error: file.error } : {}),
      ...(file.resolutions !== undefined ? { resolutions: file.resolutions } : {}),
      ...(segment !== null ? { segment } : {}),
      ...(file.tracks !== undefined ? { tracks: file.tracks } : {}),
    };
    this.#repo.upsertFile({
      archiveId,
      streamId: stream?.id ?? existing?.streamId ?? null,
      filename: file.filename,
      kind: file.kind,
      size: file.size,
      startOffsetMs: file.startOffsetMs,
      stopOffsetMs: stop,
      info,
    });
  }

  /** started ⇄ paused: an archive with nothing to record is paused. */
  #refreshState(active: ActiveArchive): void {
    if (active.ended) return;
    const recording = active.recorders.size > 0;
    if (recording && active.paused) {
      active.markStarted();
      if (active.record.options.recordingStartedAt === undefined) {
        // OpenTok: GET and the manifest give the time recording effectively began.
        active.record = this.#repo.update(active.id, {
          options: { ...active.record.options, recordingStartedAt: active.firstRecorderAt ?? Date.now() },
        });
      }
      if (active.record.status !== 'started') {
        active.record = this.#status.set(active.id, 'started');
        this.#broadcast(active, 'started');
      }
    } else if (!recording && !active.paused) {
      active.markPaused();
      active.record = this.#status.set(active.id, 'paused');
      this.#broadcast(active, 'paused');
    } else if (!recording && active.record.status === 'started') {
      // Created with nothing published yet.
      active.markPaused();
      active.record = this.#status.set(active.id, 'paused');
      this.#broadcast(active, 'paused');
    }
  }

  #checkLimits(): void {
    const { maxDurationSec, maxTotalSec, idleTimeoutSec, autoArchiveOverlapSec, archiveNoStreamTimeoutSec } =
      this.#options.settings;
    const now = Date.now();
    for (const active of [...this.#active.values()]) {
      if (active.ended) continue;
      const recorded = active.recordedMs(now);
      if (
        active.record.options.auto &&
        !active.rolledOver &&
        recorded >= (maxDurationSec - autoArchiveOverlapSec) * 1000
      ) {
        // Automatic archives roll over: the next one starts a little before this one stops.
        active.rolledOver = true;
        void this.#startAuto(active.room, active.record.multiArchiveTag, active.id);
      }
      if (recorded >= maxDurationSec * 1000 || active.totalMs(now) >= maxTotalSec * 1000) {
        void this.#stop(active, 'maximum duration exceeded');
      } else if (active.idleMs(now) >= idleTimeoutSec * 1000) {
        void this.#stop(active, 'maximum idle time exceeded');
      } else if (
        active.record.options.recordingStartedAt === undefined &&
        active.room.streams.size === 0 &&
        active.totalMs(now) >= archiveNoStreamTimeoutSec * 1000
      ) {
        // OpenTok: a client must publish within a minute of the start, or the archive stops.
        this.#logger.info(
          { archiveId: active.id },
          'nobody published after the archive started: stopping it',
        );
        void this.#stop(active, 'maximum idle time exceeded');
      } else if (!active.paused) {
        const size = [...active.recorders.values()].reduce((n, r) => n + r.bytesWritten, 0);
        const framesDropped = { ...active.droppedEnded };
        const streams = [...active.recorders].map(([streamId, recorder]) => {
          const drops = recorder.framesDropped;
          for (const d of Object.values(drops)) addDrops(framesDropped, d);
          return { streamId, framesDropped: drops };
        });
        this.#options.bus.publish(
          'archive.progress',
          {
            archiveId: active.id,
            durationSec: Math.round(recorded / 1000),
            size,
            framesDropped,
            streams,
          },
          { persist: false, roomId: active.record.roomId, archiveId: active.id },
        );
      }
    }
  }

  /** Stops an archive: finalizes every file, writes the manifest, then `stopped` → `available`. */
  #stop(active: ActiveArchive, reason: ArchiveReason, detail?: string): Promise<ArchiveJson> {
    if (active.stopping === null) {
      active.ended = true;
      if (detail !== undefined) active.failureDetail ??= detail;
      active.stopping = this.#finish(active, reason);
      // Stops started by timers and events are not awaited: their failure is logged here.
      active.stopping.catch((error: unknown) =>
        this.#logger.error({ err: error, archiveId: active.id }, 'archive could not be stopped'),
      );
    }
    return active.stopping;
  }

  /**
   * The ordered stop: every segment is finalized (those the stop ends and those that were ending
   * already), then MP4 remux, manifest, size, and only then `stopped` → `available`. A write
   * error anywhere makes it `stopped` (failure, with the detail) → `failed`: never `available`.
   */
  async #finish(active: ActiveArchive, reason: ArchiveReason): Promise<ArchiveJson> {
    const stoppedAt = Date.now();
    const recordedMs = active.recordedMs(stoppedAt);
    active.markPaused(stoppedAt);
    this.#broadcast(active, 'stopped', reason);
    let failed = false;
    try {
      for (const streamId of [...active.recorders.keys()]) void this.#endSegment(active, streamId);
      // Segments that end while we wait (a stream leaving now) are awaited too.
      while (active.finishing.size > 0) await Promise.all([...active.finishing]);
      if (active.record.format === 'mp4' && active.writeError === null) {
        await this.#toMp4(active.id);
        this.#announceAll(active.id);
      }
      this.#writeManifest(active.id);
    } catch (error) {
      failed = true;
      this.#logger.error({ err: error, archiveId: active.id }, 'archive could not be finalized');
    }
    if (failed) active.writeError ??= 'the files could not be finalized';
    const detail = active.writeError ?? active.failureDetail ?? undefined;
    this.#repo.clearStreams(active.id);
    const size = this.#sizeOf(active.id);
    const duration = Math.round(recordedMs / 1000);
    this.#active.delete(active.id);
    this.#unwatchIfIdle(active.record.roomId);
    // OpenTok: size is 0 until the archive is generated (Ref2013's stop answer shows 0); it comes
    // with `available` (or `failed`), once the archive's files or its MP4 are what it is.
    const stopped = this.#status.set(active.id, 'stopped', {
      reason: detail !== undefined ? 'failure' : reason,
      duration,
      stoppedAt,
      ...(detail !== undefined ? { detail } : {}),
    });
    const json = this.#status.restJson(stopped);
    this.#logger.info({ archiveId: active.id, reason, detail, duration, size }, 'archive stopped');
    faultPoint('archive.afterStopped');
    // Individual archives are ready now; composed ones when their composition is.
    if (active.record.outputMode === 'individual')
      this.#status.set(active.id, active.writeError !== null ? 'failed' : 'available', { size });
    return json;
  }

  /** Announces every media and split file (MP4 archives, once their files have their final names). */
  #announceAll(archiveId: string): void {
    const files = this.#repo.files(archiveId);
    for (const f of files)
      if (f.kind === 'media' || f.kind === 'split') this.#announceFile(archiveId, f.filename);
    const groups = new Map<string, ArchiveFileRecord[]>();
    for (const f of this.#repo.files(archiveId).filter((x) => x.kind === 'split')) {
      const key = f.filename.replace(/_\d{4,}\.(webm|mkv|mp4)$/, '');
      groups.set(key, [...(groups.get(key) ?? []), f]);
    }
    for (const group of groups.values()) this.#announceSplitEnd(archiveId, group);
  }

  #unwatchIfIdle(roomId: string): void {
    if (this.#archivesOf(roomId).length > 0) return;
    for (const off of this.#roomListeners.get(roomId) ?? []) off();
    this.#roomListeners.delete(roomId);
  }

  #broadcast(
    active: ActiveArchive,
    status: 'started' | 'paused' | 'stopped',
    reason: ArchiveReason = '',
  ): void {
    active.room.broadcast({
      type: 'recording',
      recording: this.state(active.record.roomId),
      archive: { id: active.id, name: active.record.name, status, reason },
    });
  }

  #sizeOf(archiveId: string): number {
    return this.#repo.files(archiveId).reduce((n, f) => n + f.size, 0);
  }

  /** `format: mp4`: remuxes each file whose codecs fit MP4 (everything but VP8). */
  async #toMp4(archiveId: string): Promise<void> {
    const ffmpeg = this.#options.ffmpeg();
    if (ffmpeg instanceof Error) {
      this.#logger.warn({ archiveId }, 'no ffmpeg: the files stay WebM/Matroska');
      return;
    }
    const dir = this.archiveDir(archiveId);
    for (const file of this.#repo.files(archiveId)) {
      const video = file.info.videoCodec as string | null | undefined;
      if (
        file.kind === 'manifest' ||
        file.kind === 'composition' ||
        file.kind === 'metadata' ||
        (video && !MP4_VIDEO.has(video))
      )
        continue;
      if (file.filename.endsWith('.mp4')) continue;
      const source = join(dir, file.filename);
      if (!existsSync(source)) continue;
      const target = file.filename.replace(/\.(webm|mkv)$/, '.mp4');
      // Written under a temporary name and checked before it replaces the original: a remux that
      // fails or comes out short never costs the recorded file.
      const temporary = join(dir, `${target}.part`);
      try {
        await remux(ffmpeg, source, temporary, true);
        const [before, after] = await Promise.all([
          probeStreams(ffmpeg, source),
          probeStreams(ffmpeg, temporary),
        ]);
        if (after.streams !== before.streams || Math.abs(after.duration - before.duration) > 0.5) {
          throw new Error(
            `the MP4 of ${file.filename} differs from it (${after.streams} streams, ${after.duration} s; ` +
              `expected ${before.streams}, ${before.duration} s)`,
          );
        }
      } catch (error) {
        rmSync(temporary, { force: true });
        this.#logger.warn(
          { err: error, archiveId, file: file.filename },
          'MP4 remux failed; the file stays as it is',
        );
        continue;
      }
      renameSync(temporary, join(dir, target));
      this.#repo.upsertFile({ ...file, filename: target, size: statSync(join(dir, target)).size });
      this.#repo.removeFile(archiveId, file.filename);
      rmSync(source, { force: true });
    }
  }

  /** Writes manifest.json in OpenTok's individual-stream format (extra fields allowed). */
  #writeManifest(archiveId: string): void {
    const record = this.#repo.get(archiveId)!;
    const files = this.#repo.files(archiveId);
    const metadata = new Set(files.filter((f) => f.kind === 'metadata').map((f) => f.filename));
    // OpenTok: the manifest's createdAt is when recording effectively began; offsets count from it.
    const createdAt = record.options.recordingStartedAt ?? record.createdAt;
    const shift = createdAt - record.createdAt;
    const offset = (ms: number) => Math.max(0, ms - shift);
    const entry = (f: ArchiveFileRecord): ManifestFile => ({
      streamId: f.streamId ?? '',
      filename: f.filename,
      size: f.size,
      startTimeOffset: offset(f.startOffsetMs),
      stopTimeOffset: offset(f.stopOffsetMs ?? f.startOffsetMs),
      connectionData: String(f.info.connectionData ?? ''),
      videoType: (f.info.videoType as VideoType | null | undefined) ?? null,
      connectionId: String(f.info.connectionId ?? ''),
      hasAudio: f.info.audioCodec != null,
      hasVideo: f.info.videoCodec != null,
      audioCodec: (f.info.audioCodec as string | null | undefined) ?? null,
      videoCodec: (f.info.videoCodec as string | null | undefined) ?? null,
      segment: Number(f.info.segment ?? 0),
      ...(typeof f.info.streamCreatedAt === 'number' ? { streamCreatedAt: f.info.streamCreatedAt } : {}),
      ...(f.info.tracks !== undefined ? { tracks: f.info.tracks as ManifestFile['tracks'] } : {}),
      ...(typeof f.info.error === 'string' ? { error: f.info.error } : {}),
      layoutClassList: Array.isArray(f.info.layoutClassList) ? (f.info.layoutClassList as string[]) : [],
      ...(Array.isArray(f.info.layoutClassChanges)
        ? {
            layoutClassChanges: (f.info.layoutClassChanges as Array<{ atMs: number; classes: string[] }>).map(
              (c) => ({ atMs: offset(c.atMs), classes: c.classes }),
            ),
          }
        : {}),
      ...(metadata.has(`${f.filename}.json`) ? { metadataFilename: `${f.filename}.json` } : {}),
    });
    const apiKey = this.#options.settings.apiKey;
    const manifest: Manifest = {
      createdAt,
      id: record.id,
      name: record.name ?? '',
      partnerId: /^\d+$/.test(apiKey) ? Number(apiKey) : apiKey,
      sessionId: record.roomId,
      files: files.filter((f) => f.kind === 'media').map(entry),
      roomId: record.roomId,
      format: record.format,
      ...(record.options.recordingMetadata !== undefined
        ? { recordingMetadata: record.options.recordingMetadata }
        : {}),
    };
    const splits = files.filter((f) => f.kind === 'split');
    if (splits.length > 0) {
      manifest.splits = splits.map((f) => ({
        streamId: f.streamId ?? '',
        filename: f.filename,
        size: f.size,
        startTimeOffset: offset(f.startOffsetMs),
        stopTimeOffset: offset(f.stopOffsetMs ?? f.startOffsetMs),
        ...(splitIndexOf(f.filename) !== undefined ? { splitIndex: splitIndexOf(f.filename)! } : {}),
        ...(metadata.has(`${f.filename}.json`) ? { metadataFilename: `${f.filename}.json` } : {}),
      }));
    }
    const ends = files.filter((f) => f.kind === 'metadata' && f.filename.endsWith('_end.json'));
    if (ends.length > 0) manifest.splitEnds = ends.map((f) => f.filename);
    if (shift !== 0) manifest.startCalledAt = record.createdAt;
    const path = join(this.archiveDir(archiveId), 'manifest.json');
    writeFileSync(`${path}.tmp`, `${JSON.stringify(manifest, null, 2)}\n`);
    renameSync(`${path}.tmp`, path);
    this.#repo.upsertFile({
      archiveId,
      streamId: null,
      filename: 'manifest.json',
      kind: 'manifest',
      size: statSync(path).size,
      startOffsetMs: 0,
      stopOffsetMs: null,
      info: {},
    });
  }

  // ---- automatic archives -------------------------------------------------------------------

  #onSessionStarted(room: LiveRoom): void {
    // OpenTok: automatic archives stop 60 s (autoArchiveStopSec) after the last client leaves,
    // and a new one starts when a client connects (or publishes) while none records.
    let stopTimer: NodeJS.Timeout | null = null;
    const cancel = () => {
      if (stopTimer !== null) clearTimeout(stopTimer);
      stopTimer = null;
    };
    room.on('empty', () => {
      cancel();
      stopTimer = setTimeout(() => {
        stopTimer = null;
        if (room.participants.size > 0) return;
        for (const active of this.#archivesOf(room.id))
          if (active.record.options.auto) void this.#stop(active, 'session ended');
      }, this.#options.settings.autoArchiveStopSec * 1000);
    });
    room.on('participantAdded', () => {
      cancel();
      this.#ensureAuto(room);
    });
    room.on('streamAdded', () => this.#ensureAuto(room));
    room.once('close', cancel);
    if (room.participants.size > 0) this.#ensureAuto(room);
  }

  /** Starts the automatic archive of an autoRecord room when none records it. */
  #ensureAuto(room: LiveRoom): void {
    if (!room.record.settings.autoRecord || this.#autoStarting.has(room.id) || room.closed) return;
    if (this.#archivesOf(room.id).some((a) => a.record.options.auto)) return;
    this.#autoStarting.add(room.id);
    void this.#startAuto(room, null).finally(() => this.#autoStarting.delete(room.id));
  }

  async #startAuto(room: LiveRoom, tag: string | null, replaces?: string): Promise<void> {
    const defaults = room.record.settings.recording;
    // The session starts before its first participant is in; start once someone is.
    if (room.participants.size === 0) {
      await new Promise<void>((resolve) => room.once('participantAdded', () => resolve()));
    }
    if (room.closed || this.#closed) return;
    try {
      await this.start(
        {
          sessionId: room.id,
          outputMode: defaults.outputMode,
          streamMode: 'auto',
          format: defaults.format,
          hasAudio: defaults.hasAudio,
          hasVideo: defaults.hasVideo,
          ...(defaults.outputMode === 'composed' ? { resolution: defaults.resolution } : {}),
          ...(defaults.name !== undefined ? { name: defaults.name } : {}),
          ...(defaults.splitDuration !== undefined ? { splitDuration: defaults.splitDuration } : {}),
          ...(defaults.splitOnly !== undefined ? { splitOnly: defaults.splitOnly } : {}),
          ...(tag !== null ? { multiArchiveTag: tag } : {}),
        },
        // A rollover successor shares the tag of the archive it replaces, which still records.
        { auto: true, ...(replaces !== undefined ? { replaces } : {}) },
      );
    } catch (error) {
      this.#logger.error({ err: error, roomId: room.id }, 'automatic archive could not start');
    }
  }

  #onSessionEnded(room: LiveRoom): void {
    for (const active of this.#archivesOf(room.id)) void this.#stop(active, 'session ended');
  }

  // ---- recovery -----------------------------------------------------------------------------

  /**
   * Finalizes archives a crash left recording: repairs their files from what is on disk
   * (remux: cues and duration), writes the manifest, and marks them `stopped` (reason
   * `failure`), then `available`.
   */
  async recover(): Promise<string[]> {
    const recovered: string[] = [];
    // Stopped (files final, manifest written) but the crash came before `available`.
    for (const record of this.#repo.withStatus(['stopped'])) {
      if (this.#active.has(record.id) || record.outputMode !== 'individual') continue;
      const damaged = this.#repo.files(record.id).some((f) => typeof f.info.error === 'string');
      this.#status.set(record.id, damaged ? 'failed' : 'available', { size: this.#sizeOf(record.id) });
      this.#logger.warn({ archiveId: record.id }, 'archive stopped before a crash is now ready');
    }
    for (const record of this.#repo.withStatus(['started', 'paused'])) {
      if (this.#active.has(record.id)) continue;
      try {
        await this.#recoverOne(record);
        recovered.push(record.id);
      } catch (error) {
        this.#logger.error({ err: error, archiveId: record.id }, 'archive recovery failed');
        this.#status.set(record.id, 'failed', { reason: 'failure' });
      }
    }
    return recovered;
  }

  async #recoverOne(record: ArchiveRecord): Promise<void> {
    const dir = this.archiveDir(record.id);
    const ffmpeg = this.#options.ffmpeg();
    const known = new Map(this.#repo.files(record.id).map((f) => [f.filename, f]));
    // Files that reached the disk but not the database (a crash in between) are taken too.
    const onDisk = existsSync(dir) ? this.#mediaFiles(dir) : [];
    let end = record.createdAt;
    for (const filename of onDisk) {
      const path = join(dir, filename);
      const row: ArchiveFileRecord = known.get(filename) ?? {
        archiveId: record.id,
        streamId: /^(?:split\/)?([0-9a-f-]{36})/.exec(filename)?.[1] ?? null,
        filename,
        kind: filename.startsWith('split/') ? 'split' : 'media',
        size: 0,
        startOffsetMs: 0,
        stopOffsetMs: null,
        info: {},
      };
      let durationMs = 0;
      if (!(ffmpeg instanceof Error)) {
        const repaired = `${path}.repair${filename.slice(filename.lastIndexOf('.'))}`;
        try {
          await remux(ffmpeg, path, repaired, false);
          renameSync(repaired, path);
        } catch (error) {
          rmSync(repaired, { force: true });
          this.#logger.warn({ err: error, file: filename }, 'file could not be repaired; kept as it is');
        }
        durationMs = Math.round(((await probeStreams(ffmpeg, path).catch(() => null))?.duration ?? 0) * 1000);
      }
      const stopOffsetMs = row.startOffsetMs + durationMs;
      end = Math.max(end, record.createdAt + stopOffsetMs);
      this.#repo.upsertFile({ ...row, size: statSync(path).size, stopOffsetMs });
    }
    if (record.format === 'mp4') await this.#toMp4(record.id);
    this.#writeManifest(record.id);
    this.#repo.clearStreams(record.id);
    const durationSec = Math.round((end - record.createdAt) / 1000);
    const size = this.#sizeOf(record.id);
    this.#status.set(record.id, 'stopped', {
      reason: 'failure',
      duration: durationSec,
      stoppedAt: end,
    });
    this.#logger.warn({ archiveId: record.id, durationSec }, 'archive interrupted by a crash was recovered');
    if (record.outputMode === 'individual') this.#status.set(record.id, 'available', { size });
  }

  #mediaFiles(dir: string): string[] {
    const media = (name: string) => /\.(webm|mkv|mp4)$/.test(name) && !name.includes('.repair');
    // A remux a crash interrupted (`.mp4.part`) is left out: its source is still there.
    const files = readdirSync(dir).filter(media);
    if (existsSync(join(dir, 'split')))
      files.push(
        ...readdirSync(join(dir, 'split'))
          .filter(media)
          .map((f) => `split/${f}`),
      );
    return files.filter((f) => f !== 'archive.mp4' && !f.startsWith('compositions/'));
  }

  /**
   * Stops every archive with `reason` (files finalized, manifest, `stopped` → `available`) and
   * refuses new ones. Awaits what is already stopping too.
   */
  async stopAll(reason: ArchiveReason, detail?: string): Promise<void> {
    await Promise.allSettled([...this.#active.values()].map((a) => this.#stop(a, reason, detail)));
  }

  /** Whether any archive is recording or being finalized. */
  get recording(): boolean {
    return this.#active.size > 0;
  }

  /** Bytes of a file being recorded that a reader may take (whole clusters), or null when it is not being recorded. */
  readableBytes(archiveId: string, filename: string): number | null {
    const active = this.#active.get(archiveId);
    if (active === undefined) return null;
    for (const recorder of active.recorders.values()) {
      const bytes = recorder.readableBytes(filename);
      if (bytes !== null) return bytes;
    }
    return null;
  }

  /** Finalizes every archive: a clean shutdown ends the sessions, so nothing needs recovery. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#limits);
    await this.stopAll('session ended');
    for (const offs of this.#roomListeners.values()) for (const off of offs) off();
    this.#roomListeners.clear();
  }
}

/**
 * Runs a parse of a nested value and names its fields from the body (`layout.type`, not `type`):
 * the nested parser names them from the value it was given.
 */
function withinField<T>(prefix: string, run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (!(error instanceof StudioError) || error.code !== 'InvalidArgument') throw error;
    const field =
      error.field === undefined
        ? prefix
        : error.field.startsWith('[')
          ? `${prefix}${error.field}`
          : `${prefix}.${error.field}`;
    throw new StudioError(error.code, error.message, field, { cause: error });
  }
}

function canvasOf(resolution: string): { width: number; height: number } {
  const [width, height] = resolution.split('x').map(Number) as [number, number];
  return { width, height };
}

/** The index of a split file (`split/<id>_0003.webm` → 3). */
function splitIndexOf(filename: string): number | undefined {
  const match = /_(\d{4,})\.(webm|mkv|mp4)$/.exec(filename);
  return filename.startsWith('split/') && match !== null ? Number(match[1]) : undefined;
}

const unixSec = (ms: number) => Math.floor(ms / 1000);
const rfc3339 = (ms: number) => new Date(ms).toISOString();

/**
 * Sora's recording metadata of one file (`sora-recording-ja`: times in UNIX seconds and RFC 3339,
 * offsets in seconds from the start call), with the studio's exact millisecond values beside.
 */
function soraMetadata(
  record: ArchiveRecord,
  row: ArchiveFileRecord,
  apiKey: string,
): Record<string, unknown> {
  const start = record.createdAt + row.startOffsetMs;
  const stopOffset = row.stopOffsetMs ?? row.startOffsetMs;
  const stop = record.createdAt + stopOffset;
  const audioCodec = typeof row.info.audioCodec === 'string' ? row.info.audioCodec : null;
  const videoCodec = typeof row.info.videoCodec === 'string' ? row.info.videoCodec : null;
  const splitIndex = row.kind === 'split' ? splitIndexOf(row.filename) : undefined;
  const connectionId = typeof row.info.connectionId === 'string' ? row.info.connectionId : null;
  const resolutions = Array.isArray(row.info.resolutions)
    ? (row.info.resolutions as Array<{ offsetMs: number; width: number; height: number }>)
    : [];
  return {
    audio: audioCodec !== null,
    ...(audioCodec !== null ? { audio_codec_type: audioCodec.toUpperCase() } : {}),
    video: videoCodec !== null,
    ...(videoCodec !== null ? { video_codec_type: videoCodec.toUpperCase() } : {}),
    recording_id: record.id,
    channel_id: record.roomId,
    session_id: record.sessionId,
    connection_id: connectionId,
    client_id: connectionId,
    filename: `${record.id}/${row.filename}`,
    metadata_filename: `${record.id}/${row.filename}.json`,
    ...(splitIndex !== undefined ? { split_index: String(splitIndex).padStart(4, '0') } : {}),
    created_at: unixSec(record.createdAt),
    size: row.size,
    start_time: unixSec(start),
    start_time_offset: Math.floor(row.startOffsetMs / 1000),
    start_timestamp: rfc3339(start),
    stop_time: unixSec(stop),
    stop_time_offset: Math.floor(stopOffset / 1000),
    stop_timestamp: rfc3339(stop),
    ...(resolutions.length > 0
      ? { video_width: resolutions[0]!.width, video_height: resolutions[0]!.height }
      : {}),
    format: row.filename.endsWith('.mp4') ? 'mp4' : 'webm',
    ...(record.options.recordingMetadata !== undefined
      ? { recording_metadata: record.options.recordingMetadata }
      : {}),
    // Studio extras: exact values and what OpenTok's manifest names.
    archive_id: record.id,
    stream_id: row.streamId,
    partner_id: apiKey,
    connection_data: typeof row.info.connectionData === 'string' ? row.info.connectionData : '',
    video_type: row.info.videoType ?? null,
    layout_class_list: Array.isArray(row.info.layoutClassList) ? row.info.layoutClassList : [],
    segment: Number(row.info.segment ?? 0),
    start_time_offset_ms: row.startOffsetMs,
    stop_time_offset_ms: stopOffset,
    container: row.info.container ?? null,
    // Every video size with the time it took effect (the first is the file's start).
    resolution_changes: resolutions.map((r) => ({
      offset_ms: r.offsetMs,
      timestamp: rfc3339(record.createdAt + r.offsetMs),
      width: r.width,
      height: r.height,
    })),
  };
}
