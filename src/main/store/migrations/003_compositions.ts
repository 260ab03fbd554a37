import type { Migration } from './types';

/**
 * Compositions (which are also the persistent job queue: `enqueued` rows wait, `processing`
 * rows are the running jobs, re-queued after a crash) and composition hooks. Settings are JSON
 * (`spec`): they are read whole and never queried by field.
 */
export const migration003: Migration = {
  version: 3,
  name: 'compositions',
  up(db) {
    db.exec(`
      CREATE TABLE compositions (
        id TEXT PRIMARY KEY,
        archive_id TEXT NOT NULL REFERENCES archives(id) ON DELETE CASCADE,
        room_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        hook_id TEXT,
        status TEXT NOT NULL,
        spec TEXT NOT NULL,
        filename TEXT,
        size INTEGER NOT NULL DEFAULT 0,
        duration REAL NOT NULL DEFAULT 0,
        progress INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        created_at INTEGER NOT NULL,
        started_at INTEGER,
        completed_at INTEGER,
        updated_at INTEGER NOT NULL
      );
      CREATE INDEX compositions_archive ON compositions(archive_id, created_at);
      CREATE INDEX compositions_status ON compositions(status, created_at);

      CREATE TABLE composition_hooks (
        id TEXT PRIMARY KEY,
        friendly_name TEXT NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 1,
        room_id TEXT,
        spec TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
    `);
  },
};
