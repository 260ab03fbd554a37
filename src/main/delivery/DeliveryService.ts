import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import type { ArchiveJson } from '../../shared/archive';
import { conflict, notFound } from '../../shared/errors';
import type { AnyStudioEvent, EventPayloads } from '../../shared/events';
import type { DeliveryEventPayloads, DeliveryRef } from '../../shared/events/deliveries';
import {
  deliveryQuerySchema,
  type DeliveryJson,
  type TargetKind,
  type TargetTestResult,
} from '../../shared/targets';
import type { Settings } from '../config/schema';
import type { ArchiveStatus } from '../events/ArchiveStatus';
import type { EventBus } from '../events/EventBus';
import type { Logger } from '../logger';
import type { Encryptor } from '../security/SecretBox';
import type { ArchiveFileKind, ArchiveFileRecord } from '../store/ArchiveRepository';
import { DeliveryRepository, PENDING_STATUSES, type DeliveryRecord } from '../store/DeliveryRepository';
import { EventRepository } from '../store/EventRepository';
import type { TargetRecord } from '../store/TargetRepository';
import { backoffMs } from '../util/backoff';
import { DestinationError, isAbort, scrubFailure, toDestinationError } from './DestinationError';
import { createDestination } from './destinations/createDestination';
import type { PartsResume } from './destinations/Destination';
import { parseWith } from '../../shared/validation';
import { dateValues, renderPath } from './pathTemplate';
import { RetentionSweeper } from './RetentionSweeper';
import { TargetManager } from './TargetManager';
import { guarded } from '../util/guarded';
import { faultPoint } from '../util/fault';

export interface DeliveryServiceOptions {
  /** The store's database (targets, deliveries, archives, events). */
  db: BetterSqlite3.Database;
  bus: EventBus;
  /** Archive statuses change only through this (it publishes `archive.<status>`). */
  archiveStatus: ArchiveStatus;
  logger: Logger;
  settings: Settings;
  /** The studio's data folder (archives live in `<dataDir>/archives/<archiveId>/`). */
  dataDir: string;
  /** Encrypts target credentials at rest. */
  encryptor: Encryptor;
}

/** An upload in progress. */
interface Running {
  controller: AbortController;
  /** Canceled by the user: the row is already `canceled`. */
  canceled: boolean;
  promise: Promise<void>;
}

/** Progress events per delivery: at most one every this many ms. */
const PROGRESS_EVERY_MS = 500;
/** Bytes are written to the row this often (the UI lists them; events carry the live value). */
const SAVE_BYTES_EVERY_MS = 2000;
/** Transient failures are reported from this attempt on (a blip a retry fixes stays quiet). */
const REPORT_TRANSIENT_FROM = 3;
/** The longest wait between two looks at the queue (deliveries due while all slots were busy). */
const MAX_IDLE_MS = 5000;

/**
 * The delivery queue: every file of an archive that becomes available goes to every enabled
 * target. Uploads run with bounded concurrency, resume after failures and restarts, retry with
 * exponential backoff and jitter until the retry window ends, and move the archive to
 * `uploaded` (all delivered) or, without storage fallback, `failed`. Local files of uploaded
 * archives are removed after the retention time when retention is on.
 */
export class DeliveryService {
  readonly targets: TargetManager;
  readonly repo: DeliveryRepository;
  readonly #options: DeliveryServiceOptions;
  readonly #logger: Logger;
  readonly #events: EventRepository;
  readonly #archivesDir: string;
  readonly #running = new Map<string, Running>();
  readonly #listener = (event: AnyStudioEvent) => this.#onEvent(event);
  #retention: RetentionSweeper | null = null;
  #timer: NodeJS.Timeout | null = null;
  #started = false;
  #closed = false;
  #closing: Promise<void> | null = null;

  constructor(options: DeliveryServiceOptions) {
    this.#options = options;
    this.#logger = options.logger;
    this.#events = new EventRepository(options.db);
    this.repo = new DeliveryRepository(options.db);
    this.targets = new TargetManager(options.db, options.encryptor, options.logger, options.dataDir);
    this.#archivesDir = join(options.dataDir, 'archives');
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Picks up uploads a crash cut short, catches up on events missed while down, and starts the queue. */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    const requeued = this.repo.requeueInterrupted(Date.now());
    if (requeued > 0) this.#logger.info({ requeued }, 'resuming uploads interrupted by a stop');
    this.#options.bus.on('event', this.#listener);
    this.#catchUp();
    // An archive whose last delivery ended just before a crash never heard of it.
    for (const archiveId of this.repo.unsettledArchives()) this.#settleArchive(archiveId);
    // Always on: an archive's expireTime is honoured whatever the retention switches say.
    this.#retention = new RetentionSweeper({
      deliveries: this.repo,
      archiveStatus: this.#options.archiveStatus,
      logger: this.#logger,
      archivesDir: this.#archivesDir,
      settings: this.#options.settings,
    });
    this.#pump();
  }

  // ---- events -----------------------------------------------------------------------------

  #onEvent(event: AnyStudioEvent): void {
    if (event.seq === 0 || this.#closed) return;
    this.#handle(event);
    this.repo.advanceEventCursor(event.seq);
  }

  /** Events persisted while the service was down (or before a crash) become deliveries now. */
  #catchUp(): void {
    for (;;) {
      const events = this.#events.since(this.repo.eventCursor(), 500);
      if (events.length === 0) return;
      for (const event of events) {
        this.#handle(event);
        this.repo.advanceEventCursor(event.seq);
      }
    }
  }

  #handle(event: AnyStudioEvent): void {
    try {
      if (event.type === 'archive.available') this.enqueueArchive(event.data.id);
      else if (event.type === 'composition.available') {
        const { archiveId, filename } = event.data;
        this.enqueueArchive(archiveId, { filename, kind: 'composition' });
      } else if (event.type === 'archive.deleted') this.#cancelArchive(event.data);
    } catch (error) {
      // One bad event must not stop the ones after it (nor replay forever at each start).
      this.#logger.error(
        { err: error, eventId: event.id, type: event.type },
        'cannot queue deliveries for event',
      );
    }
  }

  // ---- queue ------------------------------------------------------------------------------

  /**
   * Queues one delivery per enabled target for each file of an archive (or only `only`, a
   * composition that just finished). Files already queued for a target are left as they are.
   * Returns the number of deliveries added.
   */
  enqueueArchive(archiveId: string, only?: { filename: string; kind: ArchiveFileKind }): number {
    const archives = this.#options.archiveStatus.repo;
    const archive = archives.get(archiveId);
    if (archive === null || archive.status === 'deleted' || archive.status === 'expired') return 0;
    const targets = this.targets.repo.enabled();
    if (targets.length === 0) return 0;
    let files: Array<Pick<ArchiveFileRecord, 'filename' | 'kind' | 'streamId'>> = archives.files(archiveId);
    if (only !== undefined) {
      files = files.filter((f) => f.filename === only.filename);
      if (files.length === 0) files = [{ filename: only.filename, kind: only.kind, streamId: null }];
    }
    const roomName = this.repo.roomName(archive.roomId) ?? archive.roomId;
    const now = Date.now();
    const deadlineAt = now + this.#options.settings.deliveryRetryWindowSec * 1000;
    const added: Array<{ record: DeliveryRecord; target: TargetRecord }> = [];
    this.#options.db.transaction(() => {
      for (const file of files) {
        const localPath = join(this.#archivesDir, archiveId, file.filename);
        let size: number;
        try {
          size = statSync(localPath).size;
        } catch {
          this.#logger.warn(
            { archiveId, file: file.filename },
            'archive file missing on disk; not delivered',
          );
          continue;
        }
        for (const target of targets) {
          const remotePath = renderPath(target.config.pathTemplate, {
            room: archive.roomId,
            roomName,
            archiveId,
            archiveName: archive.name ?? archiveId,
            sessionId: archive.sessionId ?? archive.roomId,
            file: file.filename,
            kind: file.kind,
            streamId: file.streamId ?? 'archive',
            ...dateValues(archive.createdAt),
          });
          const record: DeliveryRecord = {
            id: randomUUID(),
            archiveId,
            targetId: target.id,
            file: file.filename,
            fileKind: file.kind,
            remotePath,
            url: null,
            size,
            bytes: 0,
            status: 'queued',
            attempts: 0,
            nextAttemptAt: now,
            deadlineAt,
            lastError: null,
            resume: {},
            createdAt: now,
            updatedAt: now,
            finishedAt: null,
          };
          if (this.repo.insert(record)) added.push({ record, target });
        }
      }
    })();
    for (const { record, target } of added) {
      this.#publish('delivery.queued', { ...this.#ref(record, target), size: record.size }, archive.roomId);
    }
    if (added.length > 0) {
      this.#logger.info({ archiveId, deliveries: added.length }, 'deliveries queued');
      this.#pump();
    }
    return added.length;
  }

  #ref(
    record: DeliveryRecord,
    target: { id: string; config: { name: string; kind: TargetKind } },
  ): DeliveryRef {
    return {
      deliveryId: record.id,
      archiveId: record.archiveId,
      targetId: target.id,
      targetName: target.config.name,
      targetKind: target.config.kind,
      file: record.file,
      remotePath: record.remotePath,
    };
  }

  #publish<K extends Exclude<keyof DeliveryEventPayloads, 'delivery.progress'>>(
    type: K,
    data: DeliveryEventPayloads[K],
    roomId: string | undefined,
  ): void {
    // EventPayloads extends DeliveryEventPayloads; TypeScript cannot see it through a generic key.
    this.#options.bus.publish(type, data as EventPayloads[K], {
      archiveId: data.archiveId,
      ...(roomId !== undefined ? { roomId } : {}),
    });
  }

  /** Starts due deliveries while slots are free, then sleeps until the next one is due. */
  #pump(): void {
    if (!this.#started || this.#closed) return;
    const free = this.#options.settings.deliveryConcurrency - this.#running.size;
    for (const record of this.repo.due(Date.now(), free, new Set(this.#running.keys()))) this.#run(record);
    if (this.#timer !== null) clearTimeout(this.#timer);
    const next = this.repo.nextDueAt();
    if (next === null) return;
    this.#timer = setTimeout(
      guarded(this.#logger, 'delivery queue', () => this.#pump()),
      Math.min(MAX_IDLE_MS, Math.max(20, next - Date.now())),
    );
    this.#timer.unref();
  }

  #run(record: DeliveryRecord): void {
    const entry: Running = { controller: new AbortController(), canceled: false, promise: Promise.resolve() };
    this.#running.set(record.id, entry);
    entry.promise = this.#attempt(record, entry)
      .catch((error: unknown) =>
        this.#logger.error({ err: error, deliveryId: record.id }, 'delivery attempt crashed'),
      )
      .finally(() => {
        this.#running.delete(record.id);
        this.#pump();
      });
  }

  async #attempt(record: DeliveryRecord, entry: Running): Promise<void> {
    const target = this.targets.repo.get(record.targetId);
    if (target === null) return; // deleted meanwhile (its deliveries went with it)
    const ref = this.#ref(record, target);
    if (target.credentialsError !== undefined) {
      const error = new DestinationError(
        'connect',
        'config',
        `target ${target.config.name}: ${target.credentialsError}`,
      );
      this.#failed(record, ref, error, target, false);
      return;
    }
    const localPath = join(this.#archivesDir, record.archiveId, record.file);
    const info = await stat(localPath).catch(() => null);
    if (info === null) {
      this.#failed(
        record,
        ref,
        new DestinationError('upload', 'source', `local file ${localPath} is gone`),
        target,
        true,
      );
      return;
    }
    const size = info.size;
    // What was stored belongs to this version of the file only: a file rewritten since (a
    // manifest updated) uploads from the start.
    const source = { size, mtimeMs: Math.floor(info.mtimeMs) };
    const stored = record.resume.source as typeof source | undefined;
    const resume = stored?.size === source.size && stored.mtimeMs === source.mtimeMs ? record.resume : {};
    this.repo.start(record.id, size);
    const signal = entry.controller.signal;
    const meter = this.#progressMeter(ref, size);
    let destination: Awaited<ReturnType<typeof createDestination>> | null = null;
    try {
      destination = await createDestination(target.config, this.#logger, this.#trustOf(target));
      const result = await destination.upload({
        localPath,
        remotePath: record.remotePath,
        size,
        resume,
        saveResume: (state) => {
          if (!entry.canceled && !this.#closed) this.repo.saveResume(record.id, { ...state, source });
        },
        onProgress: meter,
        signal,
      });
      faultPoint('delivery.afterUpload');
      const attempts = record.attempts + 1;
      const roomId = this.#roomOf(record.archiveId);
      // The delivery's new status and its event commit together (the webhook reads the event).
      this.#options.bus.commit(
        () => this.repo.succeed(record.id, result.url, size),
        () => ({
          type: 'delivery.succeeded' as const,
          data: { ...ref, url: result.url, size, attempts },
          options: { archiveId: ref.archiveId, ...(roomId !== undefined ? { roomId } : {}) },
        }),
        () => faultPoint('delivery.afterDone'),
      );
      this.#logger.info(
        { deliveryId: record.id, targetId: target.id, file: record.file, url: result.url, attempts },
        'file delivered',
      );
      this.#settleArchive(record.archiveId);
    } catch (error) {
      if (entry.canceled) return;
      if (this.#closed || isAbort(error, signal)) {
        // Closing: keep what was stored; the next start resumes from it.
        this.repo.requeue(record.id, Date.now());
        return;
      }
      this.#failed(
        record,
        ref,
        toDestinationError(error, 'upload', `uploading ${record.file}`),
        target,
        false,
      );
    } finally {
      await destination?.close().catch(() => {});
    }
  }

  /** Records a failed attempt: schedules the next one (slow for errors the user must fix) or gives up. */
  #failed(
    record: DeliveryRecord,
    ref: DeliveryRef,
    error: DestinationError,
    target: TargetRecord,
    final: boolean,
  ): void {
    const { deliveryBackoffBaseSec, deliveryBackoffMaxSec } = this.#options.settings;
    const failure = scrubFailure(error.toFailure(), target.config);
    const attempts = record.attempts + 1;
    const nextAt =
      Date.now() + backoffMs(attempts, deliveryBackoffBaseSec, deliveryBackoffMaxSec, failure.permanent);
    const giveUp = final || nextAt > record.deadlineAt;
    this.repo.fail(record.id, failure, giveUp ? null : nextAt);
    const log = { deliveryId: record.id, targetId: target.id, file: record.file, attempts, error: failure };
    if (giveUp) this.#logger.error(log, 'delivery gave up');
    else this.#logger.warn(log, 'delivery attempt failed');
    if (failure.permanent || attempts >= REPORT_TRANSIENT_FROM || giveUp) {
      this.#publish(
        'delivery.failed',
        {
          ...ref,
          error: failure.message,
          reason: failure.reason,
          stage: failure.stage,
          permanent: failure.permanent,
          attempts,
          retryAt: giveUp ? null : nextAt,
        },
        this.#roomOf(record.archiveId),
      );
    }
    if (giveUp) this.#settleArchive(record.archiveId);
  }

  /** Progress callback of one attempt: events at most every PROGRESS_EVERY_MS, bytes saved now and then. */
  #progressMeter(ref: DeliveryRef, size: number): (bytes: number) => void {
    let first: { bytes: number; at: number } | null = null;
    let lastEvent = 0;
    let lastSave = Date.now();
    const roomId = this.#roomOf(ref.archiveId);
    return (bytes) => {
      const now = Date.now();
      first ??= { bytes, at: now };
      if (now - lastSave >= SAVE_BYTES_EVERY_MS) {
        lastSave = now;
        if (!this.#closed) this.repo.saveBytes(ref.deliveryId, bytes);
      }
      if (now - lastEvent < PROGRESS_EVERY_MS && bytes < size) return;
      lastEvent = now;
      const seconds = (now - first.at) / 1000;
      const rate = seconds > 0 ? Math.round((bytes - first.bytes) / seconds) : 0;
      this.#options.bus.publish(
        'delivery.progress',
        { ...ref, bytes, size, rate },
        { persist: false, archiveId: ref.archiveId, ...(roomId !== undefined ? { roomId } : {}) },
      );
    };
  }

  #roomOf(archiveId: string): string | undefined {
    return this.#options.archiveStatus.repo.get(archiveId)?.roomId;
  }

  /**
   * Once no delivery of an archive is pending: `uploaded` when every one (not canceled)
   * succeeded; otherwise the archive stays `available` (storage fallback) or becomes `failed`.
   */
  #settleArchive(archiveId: string): void {
    const rows = this.repo.forArchive(archiveId);
    if (rows.some((row) => PENDING_STATUSES.includes(row.status))) return;
    const active = rows.filter((row) => row.status !== 'canceled');
    if (active.length === 0) return;
    const archive = this.#options.archiveStatus.repo.get(archiveId);
    if (archive === null) return;
    const { storageFallback, retentionEnabled, retentionSec } = this.#options.settings;
    if (active.every((row) => row.status === 'succeeded')) {
      if (archive.status !== 'available' && archive.status !== 'failed') return;
      this.#options.archiveStatus.set(
        archiveId,
        'uploaded',
        retentionEnabled ? { expireAt: Date.now() + retentionSec * 1000 } : {},
      );
      this.#logger.info({ archiveId, files: active.length }, 'archive uploaded to every target');
    } else if (!storageFallback && archive.status === 'available') {
      this.#options.archiveStatus.set(archiveId, 'failed', { reason: 'failure' });
    }
  }

  // ---- deliveries API ---------------------------------------------------------------------

  toJson(record: DeliveryRecord, targets = this.targets.repo.summaries()): DeliveryJson {
    const target = targets.get(record.targetId);
    const parts = record.resume as Partial<PartsResume>;
    return {
      id: record.id,
      archiveId: record.archiveId,
      targetId: record.targetId,
      targetName: target?.name ?? '',
      targetKind: target?.kind ?? 'local',
      file: record.file,
      fileKind: record.fileKind,
      remotePath: record.remotePath,
      url: record.url,
      size: record.size,
      bytes: record.bytes,
      status: record.status,
      attempts: record.attempts,
      nextAttemptAt: record.nextAttemptAt,
      deadlineAt: record.deadlineAt,
      lastError: record.lastError,
      parts:
        parts.partsTotal === undefined
          ? null
          : {
              total: parts.partsTotal,
              stored: Object.keys(parts.stored ?? {}).length,
              sent: parts.partsSent ?? 0,
            },
      createdAt: record.createdAt,
      updatedAt: record.updatedAt,
      finishedAt: record.finishedAt,
    };
  }

  /** `GET /api/deliveries?archiveId=&targetId=&status=&limit=`. */
  list(query: unknown = {}): DeliveryJson[] {
    const parsed = parseWith(deliveryQuerySchema, query ?? {}, 'query');
    const targets = this.targets.repo.summaries();
    return this.repo.list(parsed).map((record) => this.toJson(record, targets));
  }

  #record(id: string): DeliveryRecord {
    const record = this.repo.get(id);
    if (record === null) throw notFound(`delivery ${id} does not exist`, 'deliveryId');
    return record;
  }

  get(id: string): DeliveryJson {
    return this.toJson(this.#record(id));
  }

  /** Runs a delivery again now: a failed or canceled one gets a fresh retry window. */
  retry(id: string): DeliveryJson {
    const record = this.#record(id);
    if (record.status === 'succeeded') throw conflict(`delivery ${id} already succeeded`, 'deliveryId');
    if (record.status === 'uploading') throw conflict(`delivery ${id} is uploading now`, 'deliveryId');
    const now = Date.now();
    this.repo.retry(id, now, now + this.#options.settings.deliveryRetryWindowSec * 1000);
    this.#logger.info({ deliveryId: id }, 'delivery retried by hand');
    this.#pump();
    return this.get(id);
  }

  /** Stops a delivery (aborting its upload) and removes what it left at the target. */
  async cancel(id: string): Promise<DeliveryJson> {
    const record = this.#record(id);
    if (record.status === 'succeeded') throw conflict(`delivery ${id} already succeeded`, 'deliveryId');
    if (record.status === 'canceled') return this.toJson(record);
    this.repo.cancel(id);
    const running = this.#running.get(id);
    if (running !== undefined) {
      running.canceled = true;
      running.controller.abort(new Error('delivery canceled'));
      await running.promise;
    }
    const target = this.targets.repo.get(record.targetId);
    if (target !== null) {
      await this.#discard(record.id, target).catch((error: unknown) =>
        this.#logger.warn(
          { err: error, deliveryId: id },
          'cannot remove what a canceled upload left at the target',
        ),
      );
      this.#publish('delivery.canceled', this.#ref(record, target), this.#roomOf(record.archiveId));
    }
    this.#logger.info({ deliveryId: id }, 'delivery canceled');
    this.#settleArchive(record.archiveId);
    return this.get(id);
  }

  /** An SFTP target's first login stores the server's host key (trust on first use). */
  #trustOf(target: TargetRecord): { trustHostKey: (fingerprint: string) => string | null } {
    return {
      trustHostKey: (fingerprint) => this.targets.trustHostKey(target.id, target.config, fingerprint),
    };
  }

  async #discard(id: string, target: TargetRecord): Promise<void> {
    const record = this.#record(id);
    const destination = await createDestination(target.config, this.#logger, this.#trustOf(target));
    try {
      await destination.discard(record.remotePath, record.resume);
    } finally {
      await destination.close();
    }
  }

  /** An archive was deleted: its pending deliveries stop. */
  #cancelArchive(archive: ArchiveJson): void {
    for (const record of this.repo.forArchive(archive.id)) {
      if (!PENDING_STATUSES.includes(record.status)) continue;
      void this.cancel(record.id).catch((error: unknown) =>
        this.#logger.warn(
          { err: error, deliveryId: record.id },
          'cannot cancel delivery of a deleted archive',
        ),
      );
    }
  }

  // ---- targets API ------------------------------------------------------------------------

  createTarget(body: unknown) {
    return this.targets.create(body);
  }

  listTargets() {
    return this.targets.list();
  }

  getTarget(id: string) {
    return this.targets.get(id);
  }

  /** Changes a target; its deliveries waiting for a retry run again now (the fix may be this change). */
  updateTarget(id: string, body: unknown, replace = false) {
    const json = this.targets.update(id, body, replace);
    if (this.repo.retryTargetNow(id, Date.now()) > 0) this.#pump();
    return json;
  }

  /** Removes a target with its deliveries (uploads to it stop). */
  deleteTarget(id: string): void {
    this.targets.record(id);
    const affected = new Set<string>();
    for (const record of this.repo.list({ targetId: id, limit: 1_000_000 })) {
      affected.add(record.archiveId);
      const running = this.#running.get(record.id);
      if (running === undefined) continue;
      running.canceled = true;
      running.controller.abort(new Error('target deleted'));
    }
    this.targets.delete(id);
    for (const archiveId of affected) this.#settleArchive(archiveId);
  }

  testTarget(id: string, body?: unknown): Promise<TargetTestResult> {
    return this.targets.test(id, body);
  }

  testTargetConfig(body: unknown): Promise<TargetTestResult> {
    return this.targets.testConfig(body);
  }

  // ---- lifecycle --------------------------------------------------------------------------

  /**
   * Stops scheduling and aborts running uploads; what they stored stays (temp files, parts,
   * blocks) and their rows go back to the queue, so the next start resumes them. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      this.#options.bus.off('event', this.#listener);
      if (this.#timer !== null) clearTimeout(this.#timer);
      const running = [...this.#running.values()];
      for (const entry of running) entry.controller.abort(new Error('delivery service closing'));
      let timeout: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled(running.map((entry) => entry.promise)),
        new Promise((resolve) => (timeout = setTimeout(resolve, 5000))),
      ]);
      clearTimeout(timeout);
      await this.#retention?.close();
    })();
    return this.#closing;
  }
}
