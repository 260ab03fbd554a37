import { chmodSync, existsSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import type { Migration } from './migrations/types';
import { MIGRATIONS } from './migrations/index';

export interface StoreOptions {
  /** Database file, or `:memory:`. */
  path: string;
  /** Migrations to apply (default: all). Tests pass a prefix to build an older schema. */
  migrations?: readonly Migration[];
}

/** The studio's SQLite database (WAL), migrated to the newest schema on open. */
export class Store {
  readonly db: BetterSqlite3.Database;
  #closed = false;

  constructor(options: StoreOptions) {
    this.db = new BetterSqlite3(options.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    // The database holds credentials (sealed) and every room's history: this user only.
    if (process.platform !== 'win32' && options.path !== ':memory:') {
      for (const file of [options.path, `${options.path}-wal`, `${options.path}-shm`]) {
        if (existsSync(file)) chmodSync(file, 0o600);
      }
    }
    this.db.pragma('busy_timeout = 5000');
    this.migrate(options.migrations ?? MIGRATIONS);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The schema version (number of the last migration applied). */
  get version(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  /** Applies every migration newer than the database, each in its own transaction. */
  migrate(migrations: readonly Migration[] = MIGRATIONS): void {
    for (const migration of migrations) {
      if (migration.version <= this.version) continue;
      this.db.transaction(() => {
        migration.up(this.db);
        this.db.pragma(`user_version = ${migration.version}`);
      })();
    }
  }

  /** Runs `fn` in a transaction. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.db.close();
  }
}
