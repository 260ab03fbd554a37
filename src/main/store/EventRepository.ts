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

  forArchive(archiveId: string): AnyStudioEvent[] {
    return (this.#byArchive.all(archiveId) as EventRow[]).map(toEvent);
  }
}
