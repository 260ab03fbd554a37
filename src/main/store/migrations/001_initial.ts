import type { Migration } from './types';

/** The aggregates the design names. Times are milliseconds since the epoch. */
export const migration001: Migration = {
  version: 1,
  name: 'initial',
  up(db) {
    db.exec(`
      CREATE TABLE rooms (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        settings TEXT NOT NULL DEFAULT '{}',
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );

      CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
        started_at INTEGER NOT NULL,
        ended_at INTEGER
      );
      CREATE INDEX sessions_room ON sessions(room_id, started_at);

      CREATE TABLE connections (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        data TEXT NOT NULL DEFAULT '',
        recording_block INTEGER NOT NULL DEFAULT 0,
        kind TEXT NOT NULL DEFAULT 'browser',
        created_at INTEGER NOT NULL,
        ended_at INTEGER
      );
      CREATE INDEX connections_session ON connections(session_id);

      CREATE TABLE streams (
        id TEXT PRIMARY KEY,
        connection_id TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        video_type TEXT,
        has_audio INTEGER NOT NULL,
        has_video INTEGER NOT NULL,
        codecs TEXT NOT NULL DEFAULT '{}',
        created_at INTEGER NOT NULL,
        ended_at INTEGER
      );
      CREATE INDEX streams_session ON streams(session_id);

      CREATE TABLE archives (
        id TEXT PRIMARY KEY,
        room_id TEXT NOT NULL,
        session_id TEXT,
        name TEXT,
        status TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        output_mode TEXT NOT NULL,
        stream_mode TEXT NOT NULL,
        has_audio INTEGER NOT NULL,
        has_video INTEGER NOT NULL,
        resolution TEXT,
        multi_archive_tag TEXT,
        format TEXT NOT NULL,
        options TEXT NOT NULL DEFAULT '{}',
        size INTEGER NOT NULL DEFAULT 0,
        duration INTEGER NOT NULL DEFAULT 0,
        expire_at INTEGER,
        created_at INTEGER NOT NULL,
        stopped_at INTEGER,
        updated_at INTEGER NOT NULL
      );
      CREATE INDEX archives_room ON archives(room_id, created_at);
      CREATE INDEX archives_status ON archives(status);

      CREATE TABLE archive_streams (
        archive_id TEXT NOT NULL REFERENCES archives(id) ON DELETE CASCADE,
        stream_id TEXT NOT NULL,
        has_audio INTEGER NOT NULL,
        has_video INTEGER NOT NULL,
        PRIMARY KEY (archive_id, stream_id)
      );

      CREATE TABLE archive_files (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        archive_id TEXT NOT NULL REFERENCES archives(id) ON DELETE CASCADE,
        stream_id TEXT,
        filename TEXT NOT NULL,
        kind TEXT NOT NULL,
        size INTEGER NOT NULL DEFAULT 0,
        start_offset_ms INTEGER NOT NULL DEFAULT 0,
        stop_offset_ms INTEGER,
        info TEXT NOT NULL DEFAULT '{}',
        UNIQUE (archive_id, filename)
      );

      CREATE TABLE layout_changes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        archive_id TEXT NOT NULL REFERENCES archives(id) ON DELETE CASCADE,
        at_ms INTEGER NOT NULL,
        layout TEXT NOT NULL
      );

      CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        room_id TEXT,
        archive_id TEXT,
        data TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX events_archive ON events(archive_id, seq);
    `);
  },
};
