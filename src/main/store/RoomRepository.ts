import type BetterSqlite3 from 'better-sqlite3';
import type { RoomSettings } from '../../shared/rooms';
import type { ConnectionInfo, SessionInfo, StreamInfo } from '../../shared/events/rooms';

/** A room row. */
export interface RoomRecord {
  id: string;
  name: string;
  settings: RoomSettings;
  createdAt: number;
  updatedAt: number;
}

interface RoomRow {
  id: string;
  name: string;
  settings: string;
  created_at: number;
  updated_at: number;
}

const toRoom = (row: RoomRow): RoomRecord => ({
  id: row.id,
  name: row.name,
  settings: JSON.parse(row.settings) as RoomSettings,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

/** Rooms, and the history of their sessions, connections and streams. */
export class RoomRepository {
  readonly #db: BetterSqlite3.Database;

  constructor(db: BetterSqlite3.Database) {
    this.#db = db;
  }

  insert(room: RoomRecord): void {
    this.#db
      .prepare('INSERT INTO rooms (id, name, settings, created_at, updated_at) VALUES (?, ?, ?, ?, ?)')
      .run(room.id, room.name, JSON.stringify(room.settings), room.createdAt, room.updatedAt);
  }

  get(id: string): RoomRecord | null {
    const row = this.#db.prepare('SELECT * FROM rooms WHERE id = ?').get(id) as RoomRow | undefined;
    return row === undefined ? null : toRoom(row);
  }

  list(): RoomRecord[] {
    return (this.#db.prepare('SELECT * FROM rooms ORDER BY created_at DESC, id').all() as RoomRow[]).map(
      toRoom,
    );
  }

  update(room: RoomRecord): void {
    this.#db
      .prepare('UPDATE rooms SET name = ?, settings = ?, updated_at = ? WHERE id = ?')
      .run(room.name, JSON.stringify(room.settings), room.updatedAt, room.id);
  }

  delete(id: string): void {
    this.#db.prepare('DELETE FROM rooms WHERE id = ?').run(id);
  }

  insertSession(session: SessionInfo): void {
    this.#db
      .prepare('INSERT INTO sessions (id, room_id, started_at, ended_at) VALUES (?, ?, ?, ?)')
      .run(session.id, session.roomId, session.startedAt, session.endedAt);
  }

  endSession(id: string, endedAt: number): void {
    this.#db.prepare('UPDATE sessions SET ended_at = ? WHERE id = ?').run(endedAt, id);
  }

  /** Sessions left open by a crash are closed at start-up. */
  closeOpenSessions(at: number): void {
    this.#db.transaction(() => {
      this.#db.prepare('UPDATE streams SET ended_at = ? WHERE ended_at IS NULL').run(at);
      this.#db.prepare('UPDATE connections SET ended_at = ? WHERE ended_at IS NULL').run(at);
      this.#db.prepare('UPDATE sessions SET ended_at = ? WHERE ended_at IS NULL').run(at);
    })();
  }

  insertConnection(connection: ConnectionInfo): void {
    this.#db
      .prepare(
        // A resumed connection (docs/signaling.md, `reconnect`) is the same row, open again.
        'INSERT INTO connections (id, session_id, role, data, recording_block, kind, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET ended_at = NULL',
      )
      .run(
        connection.id,
        connection.sessionId,
        connection.role,
        connection.connectionData,
        connection.recordingBlock ? 1 : 0,
        connection.kind,
        connection.createdAt,
      );
  }

  endConnection(id: string, endedAt: number): void {
    this.#db.prepare('UPDATE connections SET ended_at = ? WHERE id = ?').run(endedAt, id);
  }

  insertStream(stream: StreamInfo): void {
    this.#db
      .prepare(
        // A resumed connection's stream published again is the same row, open again.
        'INSERT INTO streams (id, connection_id, session_id, video_type, has_audio, has_video, codecs, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET ended_at = NULL, has_audio = excluded.has_audio, has_video = excluded.has_video',
      )
      .run(
        stream.id,
        stream.connectionId,
        stream.sessionId,
        stream.videoType,
        stream.hasAudio ? 1 : 0,
        stream.hasVideo ? 1 : 0,
        JSON.stringify(stream.codecs),
        stream.createdAt,
      );
  }

  updateStreamCodecs(id: string, codecs: StreamInfo['codecs']): void {
    this.#db.prepare('UPDATE streams SET codecs = ? WHERE id = ?').run(JSON.stringify(codecs), id);
  }

  endStream(id: string, endedAt: number): void {
    this.#db.prepare('UPDATE streams SET ended_at = ? WHERE id = ?').run(endedAt, id);
  }
}
