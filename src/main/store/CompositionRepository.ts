import type BetterSqlite3 from 'better-sqlite3';
import type { CompositionKind, CompositionSpec, CompositionStatus } from '../../shared/compositions';

/** A composition row. The rows in `enqueued` and `processing` are the job queue. */
export interface CompositionRecord {
  id: string;
  archiveId: string;
  roomId: string;
  kind: CompositionKind;
  hookId: string | null;
  status: CompositionStatus;
  spec: CompositionSpec;
  /** Relative to the archive's folder, once written. */
  filename: string | null;
  size: number;
  /** Seconds of media. */
  duration: number;
  /** Percent done. */
  progress: number;
  /** Times a job was started (a crash re-queues a running job). */
  attempts: number;
  error: string | null;
  createdAt: number;
  startedAt: number | null;
  completedAt: number | null;
  updatedAt: number;
}

interface CompositionRow {
  id: string;
  archive_id: string;
  room_id: string;
  kind: string;
  hook_id: string | null;
  status: string;
  spec: string;
  filename: string | null;
  size: number;
  duration: number;
  progress: number;
  attempts: number;
  error: string | null;
  created_at: number;
  started_at: number | null;
  completed_at: number | null;
  updated_at: number;
}

function toRecord(row: CompositionRow): CompositionRecord {
  return {
    id: row.id,
    archiveId: row.archive_id,
    roomId: row.room_id,
    kind: row.kind as CompositionKind,
    hookId: row.hook_id,
    status: row.status as CompositionStatus,
    spec: JSON.parse(row.spec) as CompositionSpec,
    filename: row.filename,
    size: row.size,
    duration: row.duration,
    progress: row.progress,
    attempts: row.attempts,
    error: row.error,
    createdAt: row.created_at,
    startedAt: row.started_at,
    completedAt: row.completed_at,
    updatedAt: row.updated_at,
  };
}

export interface CompositionListQuery {
  archiveId?: string;
  status?: CompositionStatus;
  kind?: CompositionKind;
  roomId?: string;
  /** Created at or after (ms since the epoch). */
  createdFrom?: number;
  /** Created before (ms since the epoch). */
  createdTo?: number;
  /** Include deleted compositions (default false). */
  includeDeleted?: boolean;
  offset?: number;
  count?: number;
}

const COLUMNS: Record<string, string> = {
  status: 'status',
  filename: 'filename',
  size: 'size',
  duration: 'duration',
  progress: 'progress',
  attempts: 'attempts',
  error: 'error',
  startedAt: 'started_at',
  completedAt: 'completed_at',
};

/** Compositions and their job state. */
export class CompositionRepository {
  readonly #db: BetterSqlite3.Database;

  constructor(db: BetterSqlite3.Database) {
    this.#db = db;
  }

  insert(record: CompositionRecord): void {
    this.#db
      .prepare(
        `INSERT INTO compositions (id, archive_id, room_id, kind, hook_id, status, spec, filename, size, duration,
          progress, attempts, error, created_at, started_at, completed_at, updated_at)
         VALUES (@id, @archiveId, @roomId, @kind, @hookId, @status, @spec, @filename, @size, @duration,
          @progress, @attempts, @error, @createdAt, @startedAt, @completedAt, @updatedAt)`,
      )
      .run({ ...record, spec: JSON.stringify(record.spec) });
  }

  get(id: string): CompositionRecord | null {
    const row = this.#db.prepare('SELECT * FROM compositions WHERE id = ?').get(id) as
      CompositionRow | undefined;
    return row === undefined ? null : toRecord(row);
  }

  /** Newest first. */
  list(query: CompositionListQuery = {}): { items: CompositionRecord[]; count: number } {
    const where: string[] = [];
    const params: unknown[] = [];
    if (!query.includeDeleted && query.status !== 'deleted') where.push("status != 'deleted'");
    if (query.archiveId !== undefined) {
      where.push('archive_id = ?');
      params.push(query.archiveId);
    }
    if (query.status !== undefined) {
      where.push('status = ?');
      params.push(query.status);
    }
    if (query.kind !== undefined) {
      where.push('kind = ?');
      params.push(query.kind);
    }
    if (query.roomId !== undefined) {
      where.push('room_id = ?');
      params.push(query.roomId);
    }
    if (query.createdFrom !== undefined) {
      where.push('created_at >= ?');
      params.push(query.createdFrom);
    }
    if (query.createdTo !== undefined) {
      where.push('created_at < ?');
      params.push(query.createdTo);
    }
    const clause = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const count = (
      this.#db.prepare(`SELECT count(*) AS n FROM compositions ${clause}`).get(...params) as { n: number }
    ).n;
    const rows = this.#db
      .prepare(`SELECT * FROM compositions ${clause} ORDER BY created_at DESC, id LIMIT ? OFFSET ?`)
      .all(...params, query.count ?? 100, query.offset ?? 0) as CompositionRow[];
    return { items: rows.map(toRecord), count };
  }

  /** Compositions in any of these statuses, oldest first (the queue order). */
  withStatus(statuses: CompositionStatus[]): CompositionRecord[] {
    const marks = statuses.map(() => '?').join(', ');
    const rows = this.#db
      .prepare(`SELECT * FROM compositions WHERE status IN (${marks}) ORDER BY created_at, rowid`)
      .all(...statuses) as CompositionRow[];
    return rows.map(toRecord);
  }

  /** The oldest enqueued composition not in `skip`, or null. */
  nextEnqueued(skip: ReadonlySet<string> = new Set()): CompositionRecord | null {
    for (const record of this.withStatus(['enqueued'])) {
      if (!skip.has(record.id)) return record;
    }
    return null;
  }

  /** Compositions of an archive (any status), oldest first. */
  forArchive(archiveId: string): CompositionRecord[] {
    const rows = this.#db
      .prepare('SELECT * FROM compositions WHERE archive_id = ? ORDER BY created_at, rowid')
      .all(archiveId) as CompositionRow[];
    return rows.map(toRecord);
  }

  /** Updates some fields; returns the new record. */
  update(
    id: string,
    patch: Partial<
      Pick<
        CompositionRecord,
        | 'status'
        | 'filename'
        | 'size'
        | 'duration'
        | 'progress'
        | 'attempts'
        | 'error'
        | 'startedAt'
        | 'completedAt'
      >
    >,
  ): CompositionRecord {
    const sets: string[] = ['updated_at = @updatedAt'];
    const params: Record<string, unknown> = { id, updatedAt: Date.now() };
    for (const [key, value] of Object.entries(patch)) {
      if (value === undefined) continue;
      sets.push(`${COLUMNS[key]} = @${key}`);
      params[key] = value;
    }
    this.#db.prepare(`UPDATE compositions SET ${sets.join(', ')} WHERE id = @id`).run(params);
    const record = this.get(id);
    if (record === null) throw new Error(`composition ${id} vanished during update`);
    return record;
  }
}
