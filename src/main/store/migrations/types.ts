import type BetterSqlite3 from 'better-sqlite3';

/** One numbered schema change. `up` runs inside a transaction; it never runs twice. */
export interface Migration {
  version: number;
  name: string;
  up(db: BetterSqlite3.Database): void;
}
