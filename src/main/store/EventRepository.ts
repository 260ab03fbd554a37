import type BetterSqlite3 from 'better-sqlite3';
import type { AnyStudioEvent } from '../../shared/events';

interface EventRow {
  seq: number;
  id: string;
  type: string;
  room_id: string | null;
  archive_id: string | null;
  data: string;
  created_at: number;
}

function toEvent(row: EventRow): AnyStudioEvent {
  const event = {
    id: row.id,
    seq: row.seq,
    type: row.type,
    createdAt: row.created_at,
    data: JSON.parse(row.data) as unknown,
    ...(row.room_id !== null ? { roomId: row.room_id } : {}),
    ...(row.archive_id !== null ? { archiveId: row.archive_id } : {}),
  };
  return event as AnyStudioEvent;
}

/** The events outbox: every persisted event, in order. */
export class EventRepository {
  readonly #db: BetterSqlite3.Database;
  readonly #insert: BetterSqlite3.Statement;
  readonly #since: BetterSqlite3.Statement;
  readonly #byArchive: BetterSqlite3.Statement;

  constructor(db: BetterSqlite3.Database) {
    this.#db = db;
    this.#insert = db.prepare(
      'INSERT INTO events (id, type, room_id, archive_id, data, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.#since = db.prepare('SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?');
    this.#byArchive = db.prepare('SELECT * FROM events WHERE archive_id = ? ORDER BY seq');
  }

  /** Appends an event and returns its sequence number. */
  append(event: Omit<AnyStudioEvent, 'seq'>): number {
    const info = this.#insert.run(
      event.id,
      event.type,
      event.roomId ?? null,
      event.archiveId ?? null,
      JSON.stringify(event.data),
      event.createdAt,
    );
    return Number(info.lastInsertRowid);
  }

  /** Runs `fn` in one transaction (a change and the event that announces it commit together). */
  transaction<T>(fn: () => T): T {
    return this.#db.transaction(fn)();
  }

  /** Events after `seq`, oldest first. */
  since(seq: number, limit = 500): AnyStudioEvent[] {
    return (this.#since.all(seq, limit) as EventRow[]).map(toEvent);
  }

  /**
   * The newest seq that every reader of the outbox is done with: the delivery queue's cursor,
   * every webhook registration's cursor, and the events of webhook messages still pending.
   */
  handledUpTo(): number {
    const row = this.#db
      .prepare(
        `SELECT min(
           coalesce((SELECT value FROM delivery_state WHERE key = 'event_cursor'), 0),
           coalesce((SELECT min(cursor) FROM webhooks), 9223372036854775807),
           coalesce((SELECT min(event_seq) - 1 FROM webhook_messages WHERE status = 'pending'), 9223372036854775807)
         ) AS seq`,
      )
      .get() as { seq: number };
    return row.seq;
  }

  /**
   * Removes handled events created before `before`, and the oldest handled ones beyond
   * `maxRows`; never an event a cursor or a pending webhook message still needs. Deletes at
   * most `batch` rows (the oldest) so the main thread is never held for long: call again while
   * it returns `batch`. Returns how many were removed.
   */
  prune(before: number, maxRows: number, batch = 5000): number {
    const floor = this.handledUpTo();
    const newest = (
      this.#db.prepare('SELECT coalesce(max(seq), 0) AS seq FROM events').get() as { seq: number }
    ).seq;
    return this.#db
      .prepare(
        `DELETE FROM events WHERE seq IN (
           SELECT seq FROM events WHERE seq <= @floor AND (created_at < @before OR seq <= @overflow)
           ORDER BY seq LIMIT @batch)`,
      )
      .run({ floor, before, overflow: newest - maxRows, batch }).changes;
  }

  forArchive(archiveId: string): AnyStudioEvent[] {
    return (this.#byArchive.all(archiveId) as EventRow[]).map(toEvent);
  }
}
