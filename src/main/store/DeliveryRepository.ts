import type BetterSqlite3 from 'better-sqlite3';
import type { DeliveryQuery, DeliveryStatus, DestinationFailure } from '../../shared/targets';

/** Kind-specific state that lets an upload resume (multipart upload id and parts, block ids…). */
export type ResumeState = Record<string, unknown>;

/** One file's upload to one target. */
export interface DeliveryRecord {
  id: string;
  archiveId: string;
  targetId: string;
  /** Path inside `<data>/archives/<archiveId>/`. */
  file: string;
  fileKind: string;
  /** Rendered path template (under the target's folder, prefix or container). */
  remotePath: string;
  url: string | null;
  size: number;
  bytes: number;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: number | null;
  deadlineAt: number;
  lastError: DestinationFailure | null;
  resume: ResumeState;
  createdAt: number;
  updatedAt: number;
  finishedAt: number | null;
}

interface DeliveryRow {
  id: string;
  archive_id: string;
  target_id: string;
  file: string;
  file_kind: string;
  remote_path: string;
  url: string | null;
  size: number;
  bytes: number;
  status: string;
  attempts: number;
  next_attempt_at: number | null;
  deadline_at: number;
  last_error: string | null;
  resume: string;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

const toRecord = (row: DeliveryRow): DeliveryRecord => ({
  id: row.id,
  archiveId: row.archive_id,
  targetId: row.target_id,
  file: row.file,
  fileKind: row.file_kind,
  remotePath: row.remote_path,
  url: row.url,
  size: row.size,
  bytes: row.bytes,
  status: row.status as DeliveryStatus,
  attempts: row.attempts,
  nextAttemptAt: row.next_attempt_at,
  deadlineAt: row.deadline_at,
  lastError: row.last_error === null ? null : (JSON.parse(row.last_error) as DestinationFailure),
  resume: JSON.parse(row.resume) as ResumeState,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  finishedAt: row.finished_at,
});

/** Statuses of a delivery that still has work to do. */
export const PENDING_STATUSES: readonly DeliveryStatus[] = ['queued', 'uploading', 'retrying'];

/** The upload queue. */
export class DeliveryRepository {
  readonly #db: BetterSqlite3.Database;

  constructor(db: BetterSqlite3.Database) {
    this.#db = db;
  }

  /** Adds a delivery unless the same file already goes to the same target; true when added. */
  insert(record: DeliveryRecord): boolean {
    const info = this.#db
      .prepare(
        `INSERT INTO deliveries (id, archive_id, target_id, file, file_kind, remote_path, url, size, bytes, status,
           attempts, next_attempt_at, deadline_at, last_error, resume, created_at, updated_at, finished_at)
         VALUES (@id, @archiveId, @targetId, @file, @fileKind, @remotePath, @url, @size, @bytes, @status,
           @attempts, @nextAttemptAt, @deadlineAt, @lastError, @resume, @createdAt, @updatedAt, @finishedAt)
         ON CONFLICT (archive_id, target_id, file) DO NOTHING`,
      )
      .run({
        ...record,
        lastError: record.lastError === null ? null : JSON.stringify(record.lastError),
        resume: JSON.stringify(record.resume),
      });
    return info.changes > 0;
  }

  get(id: string): DeliveryRecord | null {
    const row = this.#db.prepare('SELECT * FROM deliveries WHERE id = ?').get(id) as DeliveryRow | undefined;
    return row === undefined ? null : toRecord(row);
  }

  list(query: Partial<DeliveryQuery> = {}): DeliveryRecord[] {
    const where: string[] = [];
    const params: unknown[] = [];
    for (const [column, value] of [
      ['archive_id', query.archiveId],
      ['target_id', query.targetId],
      ['status', query.status],
    ] as const) {
      if (value === undefined) continue;
      where.push(`${column} = ?`);
      params.push(value);
    }
    const clause = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const rows = this.#db
      .prepare(`SELECT * FROM deliveries ${clause} ORDER BY created_at DESC, file, id LIMIT ?`)
      .all(...params, query.limit ?? 200) as DeliveryRow[];
    return rows.map(toRecord);
  }

  forArchive(archiveId: string): DeliveryRecord[] {
    const rows = this.#db
      .prepare('SELECT * FROM deliveries WHERE archive_id = ? ORDER BY created_at, file, id')
      .all(archiveId) as DeliveryRow[];
    return rows.map(toRecord);
  }

  /** Deliveries whose next attempt is due, oldest due first, leaving out those already running. */
  due(now: number, limit: number, running: ReadonlySet<string>): DeliveryRecord[] {
    if (limit <= 0) return [];
    const rows = this.#db
      .prepare(
        `SELECT * FROM deliveries WHERE status IN ('queued', 'retrying') AND next_attempt_at <= ?
         ORDER BY next_attempt_at, created_at, id LIMIT ?`,
      )
      .all(now, limit + running.size) as DeliveryRow[];
    return rows
      .filter((row) => !running.has(row.id))
      .slice(0, limit)
      .map(toRecord);
  }

  /** When the next waiting delivery is due, or null when none waits. */
  nextDueAt(): number | null {
    const row = this.#db
      .prepare("SELECT min(next_attempt_at) AS at FROM deliveries WHERE status IN ('queued', 'retrying')")
      .get() as { at: number | null };
    return row.at;
  }

  #set(id: string, fields: Record<string, unknown>): void {
    const sets = Object.keys(fields).map((column) => `${column} = @${column}`);
    this.#db
      .prepare(`UPDATE deliveries SET ${sets.join(', ')}, updated_at = @updated_at WHERE id = @id`)
      .run({ ...fields, id, updated_at: Date.now() });
  }

  /** An attempt begins. */
  start(id: string, size: number): void {
    this.#db
      .prepare(
        "UPDATE deliveries SET status = 'uploading', attempts = attempts + 1, size = ?, next_attempt_at = NULL, updated_at = ? WHERE id = ?",
      )
      .run(size, Date.now(), id);
  }

  saveBytes(id: string, bytes: number): void {
    this.#set(id, { bytes });
  }

  saveResume(id: string, resume: ResumeState): void {
    this.#set(id, { resume: JSON.stringify(resume) });
  }

  succeed(id: string, url: string, size: number): void {
    this.#set(id, {
      status: 'succeeded',
      url,
      bytes: size,
      size,
      last_error: null,
      next_attempt_at: null,
      finished_at: Date.now(),
    });
  }

  /** An attempt failed: wait until `nextAttemptAt`, or give up (`failed`) when it is null. */
  fail(id: string, error: DestinationFailure, nextAttemptAt: number | null): void {
    this.#set(id, {
      status: nextAttemptAt === null ? 'failed' : 'retrying',
      last_error: JSON.stringify(error),
      next_attempt_at: nextAttemptAt,
      finished_at: nextAttemptAt === null ? Date.now() : null,
    });
  }

  /** Back to the queue, keeping what the upload stored (the service closed mid-upload). */
  requeue(id: string, at: number): void {
    this.#set(id, { status: 'queued', next_attempt_at: at });
  }

  /**
   * Archives still `available` or `failed` whose deliveries are all done: a crash between a last
   * delivery's end and the archive's new status leaves them so (settled again at start-up).
   */
  unsettledArchives(): string[] {
    const rows = this.#db
      .prepare(
        `SELECT DISTINCT d.archive_id AS id FROM deliveries d JOIN archives a ON a.id = d.archive_id
         WHERE a.status IN ('available', 'failed') AND NOT EXISTS (
           SELECT 1 FROM deliveries p WHERE p.archive_id = d.archive_id
           AND p.status IN ('queued', 'uploading', 'retrying'))`,
      )
      .all() as { id: string }[];
    return rows.map((row) => row.id);
  }

  /** Uploads cut short by a crash resume at start-up. */
  requeueInterrupted(at: number): number {
    return this.#db
      .prepare(
        "UPDATE deliveries SET status = 'queued', next_attempt_at = ?, updated_at = ? WHERE status = 'uploading'",
      )
      .run(at, Date.now()).changes;
  }

  cancel(id: string): void {
    this.#set(id, { status: 'canceled', next_attempt_at: null, finished_at: Date.now() });
  }

  /** A manual retry: queued now, with a fresh retry window. */
  retry(id: string, now: number, deadlineAt: number): void {
    this.#set(id, {
      status: 'queued',
      next_attempt_at: now,
      deadline_at: deadlineAt,
      attempts: 0,
      finished_at: null,
    });
  }

  /** Deliveries of a target waiting for a retry become due now (its settings were just fixed). */
  retryTargetNow(targetId: string, now: number): number {
    return this.#db
      .prepare(
        "UPDATE deliveries SET next_attempt_at = ?, updated_at = ? WHERE target_id = ? AND status = 'retrying'",
      )
      .run(now, now, targetId).changes;
  }

  /** Position in the events table up to which events became deliveries. */
  eventCursor(): number {
    const row = this.#db.prepare("SELECT value FROM delivery_state WHERE key = 'event_cursor'").get() as
      { value: number } | undefined;
    return row?.value ?? 0;
  }

  /** Moves the cursor forward (never back: events published while handling one come first). */
  advanceEventCursor(seq: number): void {
    this.#db
      .prepare(
        `INSERT INTO delivery_state (key, value) VALUES ('event_cursor', ?)
         ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)`,
      )
      .run(seq);
  }

  /** A room's name for path templates (rooms may have been deleted since). */
  roomName(roomId: string): string | null {
    const row = this.#db.prepare('SELECT name FROM rooms WHERE id = ?').get(roomId) as
      { name: string } | undefined;
    return row?.name ?? null;
  }

  /** Uploaded archives whose local retention ended by `now` (expire time set at upload, or upload time + retention). */
  expiredArchives(now: number, retention: { uploadedMs: number | null; localMs: number | null }): string[] {
    // Expired: an expireTime that has passed (set at start, or by delivery retention); uploaded
    // archives after the retention time; local archives never uploaded after the local one.
    // Never while a delivery still reads the files.
    const rows = this.#db
      .prepare(
        `SELECT id FROM archives a WHERE status IN ('available', 'uploaded', 'failed')
           AND (
             (expire_at IS NOT NULL AND expire_at <= @now)
             OR (@uploadedMs IS NOT NULL AND status = 'uploaded' AND expire_at IS NULL AND updated_at + @uploadedMs <= @now)
             OR (@localMs IS NOT NULL AND status IN ('available', 'failed')
                 AND coalesce(stopped_at, created_at) + @localMs <= @now
                 AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.archive_id = a.id))
           )
           AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.archive_id = a.id
                           AND d.status IN ('queued', 'uploading', 'retrying'))
         ORDER BY updated_at LIMIT 100`,
      )
      .all({ now, uploadedMs: retention.uploadedMs, localMs: retention.localMs }) as Array<{ id: string }>;
    return rows.map((row) => row.id);
  }
}
