import type BetterSqlite3 from 'better-sqlite3';
import type { CompositionSpec } from '../../shared/compositions';

/** A composition hook: a template composed for every archive that stops (or a room's). */
export interface CompositionHookRecord {
  id: string;
  friendlyName: string;
  enabled: boolean;
  /** Only archives of this room; null: every archive. */
  roomId: string | null;
  spec: CompositionSpec;
  createdAt: number;
  updatedAt: number;
}

interface HookRow {
  id: string;
  friendly_name: string;
  enabled: number;
  room_id: string | null;
  spec: string;
  created_at: number;
  updated_at: number;
}

function toRecord(row: HookRow): CompositionHookRecord {
  return {
    id: row.id,
    friendlyName: row.friendly_name,
    enabled: row.enabled === 1,
    roomId: row.room_id,
    spec: JSON.parse(row.spec) as CompositionSpec,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Composition hooks. */
export class CompositionHookRepository {
  readonly #db: BetterSqlite3.Database;

  constructor(db: BetterSqlite3.Database) {
    this.#db = db;
  }

  /** Inserts or replaces a hook. */
  save(record: CompositionHookRecord): void {
    this.#db
      .prepare(
        `INSERT INTO composition_hooks (id, friendly_name, enabled, room_id, spec, created_at, updated_at)
         VALUES (@id, @friendlyName, @enabled, @roomId, @spec, @createdAt, @updatedAt)
         ON CONFLICT (id) DO UPDATE SET friendly_name = excluded.friendly_name, enabled = excluded.enabled,
           room_id = excluded.room_id, spec = excluded.spec, updated_at = excluded.updated_at`,
      )
      .run({ ...record, enabled: record.enabled ? 1 : 0, spec: JSON.stringify(record.spec) });
  }

  get(id: string): CompositionHookRecord | null {
    const row = this.#db.prepare('SELECT * FROM composition_hooks WHERE id = ?').get(id) as
      HookRow | undefined;
    return row === undefined ? null : toRecord(row);
  }

  /** Oldest first. */
  list(): CompositionHookRecord[] {
    const rows = this.#db
      .prepare('SELECT * FROM composition_hooks ORDER BY created_at, rowid')
      .all() as HookRow[];
    return rows.map(toRecord);
  }

  /** Enabled hooks that apply to archives of a room. */
  forRoom(roomId: string): CompositionHookRecord[] {
    const rows = this.#db
      .prepare(
        'SELECT * FROM composition_hooks WHERE enabled = 1 AND (room_id IS NULL OR room_id = ?) ORDER BY created_at, rowid',
      )
      .all(roomId) as HookRow[];
    return rows.map(toRecord);
  }

  delete(id: string): boolean {
    return this.#db.prepare('DELETE FROM composition_hooks WHERE id = ?').run(id).changes > 0;
  }
}
