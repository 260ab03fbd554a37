import type BetterSqlite3 from 'better-sqlite3';
import type {
  ArchiveJson,
  ArchiveReason,
  ArchiveStatus,
  ArchiveStream,
  OutputMode,
  RecordingFormat,
  StreamMode,
} from '../../shared/archive';

/** Options of an archive kept as JSON (they do not need columns of their own). */
export interface ArchiveOptions {
  /** Split output: cut files every this many seconds (at keyframes). */
  splitDuration?: number;
  /** Only write the split files, not the whole-stream files. */
  splitOnly?: boolean;
  recordingMetadata?: unknown;
  /** Composed archives: video bitrate cap in bits per second. */
  maxBitrate?: number;
  /** Started automatically for an autoRecord room (rolls over every maxDuration). */
  auto?: boolean;
  /** Composition hook or composed-output settings given at start. */
  layout?: unknown;
  /** What a `failure` was ("disk full"), when the studio knows. */
  failureDetail?: string;
  /** When recording effectively began: the first stream was recorded (ms since the epoch). */
  recordingStartedAt?: number;
  /** Composition status callback URL given at start (signed like the other webhooks). */
  statusCallback?: string;
}

/** An archive row. */
export interface ArchiveRecord {
  id: string;
  roomId: string;
  sessionId: string | null;
  name: string | null;
  status: ArchiveStatus;
  reason: ArchiveReason;
  outputMode: OutputMode;
  streamMode: StreamMode;
  hasAudio: boolean;
  hasVideo: boolean;
  resolution: string | null;
  multiArchiveTag: string | null;
  format: RecordingFormat;
  options: ArchiveOptions;
  /** Bytes of the archive's files. */
  size: number;
  /** Recorded seconds. */
  duration: number;
  expireAt: number | null;
  createdAt: number;
  stoppedAt: number | null;
  updatedAt: number;
}

/** `metadata`: the JSON beside a media or split file (`<file>.json`, Sora's recording metadata). */
export type ArchiveFileKind = 'media' | 'split' | 'manifest' | 'composition' | 'metadata';

/** A file of an archive, relative to `<data>/archives/<archiveId>/`. */
export interface ArchiveFileRecord {
  archiveId: string;
  streamId: string | null;
  filename: string;
  kind: ArchiveFileKind;
  size: number;
  startOffsetMs: number;
  stopOffsetMs: number | null;
  /** Extra facts: connectionData, videoType, codecs, segment… */
  info: Record<string, unknown>;
}

interface ArchiveRow {
  id: string;
  room_id: string;
  session_id: string | null;
  name: string | null;
  status: string;
  reason: string;
  output_mode: string;
  stream_mode: string;
  has_audio: number;
  has_video: number;
  resolution: string | null;
  multi_archive_tag: string | null;
  format: string;
  options: string;
  size: number;
  duration: number;
  expire_at: number | null;
  created_at: number;
  stopped_at: number | null;
  updated_at: number;
}

interface FileRow {
  archive_id: string;
  stream_id: string | null;
  filename: string;
  kind: string;
  size: number;
  start_offset_ms: number;
  stop_offset_ms: number | null;
  info: string;
}

function toRecord(row: ArchiveRow): ArchiveRecord {
  return {
    id: row.id,
    roomId: row.room_id,
    sessionId: row.session_id,
    name: row.name,
    status: row.status as ArchiveStatus,
    reason: row.reason as ArchiveReason,
    outputMode: row.output_mode as OutputMode,
    streamMode: row.stream_mode as StreamMode,
    hasAudio: row.has_audio === 1,
    hasVideo: row.has_video === 1,
    resolution: row.resolution,
    multiArchiveTag: row.multi_archive_tag,
    format: row.format as RecordingFormat,
    options: JSON.parse(row.options) as ArchiveOptions,
    size: row.size,
    duration: row.duration,
    expireAt: row.expire_at,
    createdAt: row.created_at,
    stoppedAt: row.stopped_at,
    updatedAt: row.updated_at,
  };
}

function toFile(row: FileRow): ArchiveFileRecord {
  return {
    archiveId: row.archive_id,
    streamId: row.stream_id,
    filename: row.filename,
    kind: row.kind as ArchiveFileKind,
    size: row.size,
    startOffsetMs: row.start_offset_ms,
    stopOffsetMs: row.stop_offset_ms,
    info: JSON.parse(row.info) as Record<string, unknown>,
  };
}

export interface ArchiveListQuery {
  offset?: number;
  count?: number;
  /** The OpenTok sessionId, which is the room id. */
  roomId?: string;
  status?: ArchiveStatus;
  /** Any of these statuses. */
  statuses?: ArchiveStatus[];
  /** Created at or after (ms since the epoch). */
  createdFrom?: number;
  /** Created before (ms since the epoch). */
  createdTo?: number;
  /** Include deleted archives (default false). */
  includeDeleted?: boolean;
}

/** Archives, their files and the streams they record. */
export class ArchiveRepository {
  readonly #db: BetterSqlite3.Database;

  constructor(db: BetterSqlite3.Database) {
    this.#db = db;
  }

  insert(record: ArchiveRecord): void {
    this.#db
      .prepare(
        `INSERT INTO archives (id, room_id, session_id, name, status, reason, output_mode, stream_mode, has_audio,
          has_video, resolution, multi_archive_tag, format, options, size, duration, expire_at, created_at, stopped_at, updated_at)
         VALUES (@id, @roomId, @sessionId, @name, @status, @reason, @outputMode, @streamMode, @hasAudio, @hasVideo,
          @resolution, @multiArchiveTag, @format, @options, @size, @duration, @expireAt, @createdAt, @stoppedAt, @updatedAt)`,
      )
      .run({
        ...record,
        hasAudio: record.hasAudio ? 1 : 0,
        hasVideo: record.hasVideo ? 1 : 0,
        options: JSON.stringify(record.options),
      });
  }

  get(id: string): ArchiveRecord | null {
    const row = this.#db.prepare('SELECT * FROM archives WHERE id = ?').get(id) as ArchiveRow | undefined;
    return row === undefined ? null : toRecord(row);
  }

  /** Newest first, as OpenTok lists them. */
  list(query: ArchiveListQuery = {}): { items: ArchiveRecord[]; count: number } {
    const where: string[] = [];
    const params: unknown[] = [];
    if (!query.includeDeleted) where.push("status != 'deleted'");
    if (query.roomId !== undefined) {
      where.push('room_id = ?');
      params.push(query.roomId);
    }
    if (query.status !== undefined) {
      where.push('status = ?');
      params.push(query.status);
    }
    if (query.statuses !== undefined && query.statuses.length > 0) {
      where.push(`status IN (${query.statuses.map(() => '?').join(', ')})`);
      params.push(...query.statuses);
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
      this.#db.prepare(`SELECT count(*) AS n FROM archives ${clause}`).get(...params) as { n: number }
    ).n;
    const rows = this.#db
      .prepare(`SELECT * FROM archives ${clause} ORDER BY created_at DESC, id LIMIT ? OFFSET ?`)
      .all(...params, query.count ?? 50, query.offset ?? 0) as ArchiveRow[];
    return { items: rows.map(toRecord), count };
  }

  /** Archives in any of these statuses (recovery, schedulers). */
  withStatus(statuses: ArchiveStatus[]): ArchiveRecord[] {
    const marks = statuses.map(() => '?').join(', ');
    const rows = this.#db
      .prepare(`SELECT * FROM archives WHERE status IN (${marks}) ORDER BY created_at`)
      .all(...statuses) as ArchiveRow[];
    return rows.map(toRecord);
  }

  /** Updates some fields; returns the new record. */
  update(
    id: string,
    patch: Partial<
      Pick<
        ArchiveRecord,
        | 'status'
        | 'reason'
        | 'size'
        | 'duration'
        | 'stoppedAt'
        | 'sessionId'
        | 'expireAt'
        | 'options'
        | 'name'
      >
    >,
  ): ArchiveRecord {
    const columns: Record<string, string> = {
      status: 'status',
      reason: 'reason',
      size: 'size',
      duration: 'duration',
      stoppedAt: 'stopped_at',
      sessionId: 'session_id',
      expireAt: 'expire_at',
      options: 'options',
      name: 'name',
    };
    const sets: string[] = ['updated_at = @updatedAt'];
    const params: Record<string, unknown> = { id, updatedAt: Date.now() };
    for (const [key, value] of Object.entries(patch)) {
      if (value === undefined) continue;
      sets.push(`${columns[key]} = @${key}`);
      params[key] = key === 'options' ? JSON.stringify(value) : value;
    }
    this.#db.prepare(`UPDATE archives SET ${sets.join(', ')} WHERE id = @id`).run(params);
    const record = this.get(id);
    if (record === null) throw new Error(`archive ${id} vanished during update`);
    return record;
  }

  files(archiveId: string): ArchiveFileRecord[] {
    const rows = this.#db
      .prepare('SELECT * FROM archive_files WHERE archive_id = ? ORDER BY id')
      .all(archiveId) as FileRow[];
    return rows.map(toFile);
  }

  upsertFile(file: ArchiveFileRecord): void {
    this.#db
      .prepare(
        `INSERT INTO archive_files (archive_id, stream_id, filename, kind, size, start_offset_ms, stop_offset_ms, info)
         VALUES (@archiveId, @streamId, @filename, @kind, @size, @startOffsetMs, @stopOffsetMs, @info)
         ON CONFLICT (archive_id, filename) DO UPDATE SET size = excluded.size, start_offset_ms = excluded.start_offset_ms,
           stop_offset_ms = excluded.stop_offset_ms, info = excluded.info, kind = excluded.kind, stream_id = excluded.stream_id`,
      )
      .run({ ...file, info: JSON.stringify(file.info) });
  }

  removeFile(archiveId: string, filename: string): void {
    this.#db
      .prepare('DELETE FROM archive_files WHERE archive_id = ? AND filename = ?')
      .run(archiveId, filename);
  }

  /** Streams the archive records now (`streams[]` of the archive JSON). */
  streams(archiveId: string): ArchiveStream[] {
    const rows = this.#db
      .prepare(
        'SELECT stream_id, has_audio, has_video FROM archive_streams WHERE archive_id = ? ORDER BY rowid',
      )
      .all(archiveId) as Array<{ stream_id: string; has_audio: number; has_video: number }>;
    return rows.map((r) => ({
      streamId: r.stream_id,
      hasAudio: r.has_audio === 1,
      hasVideo: r.has_video === 1,
    }));
  }

  setStream(archiveId: string, stream: ArchiveStream): void {
    this.#db
      .prepare(
        `INSERT INTO archive_streams (archive_id, stream_id, has_audio, has_video) VALUES (?, ?, ?, ?)
         ON CONFLICT (archive_id, stream_id) DO UPDATE SET has_audio = excluded.has_audio, has_video = excluded.has_video`,
      )
      .run(archiveId, stream.streamId, stream.hasAudio ? 1 : 0, stream.hasVideo ? 1 : 0);
  }

  removeStream(archiveId: string, streamId: string): void {
    this.#db
      .prepare('DELETE FROM archive_streams WHERE archive_id = ? AND stream_id = ?')
      .run(archiveId, streamId);
  }

  clearStreams(archiveId: string): void {
    this.#db.prepare('DELETE FROM archive_streams WHERE archive_id = ?').run(archiveId);
  }
  /** The archive's last layout change (`PUT …/layout`): its JSON and offset, or null if none. */
  lastLayoutChange(archiveId: string): { atMs: number; layout: unknown } | null {
    const row = this.#db
      .prepare(
        'SELECT at_ms, layout FROM layout_changes WHERE archive_id = ? ORDER BY at_ms DESC, id DESC LIMIT 1',
      )
      .get(archiveId) as { at_ms: number; layout: string } | undefined;
    if (row === undefined) return null;
    try {
      return { atMs: row.at_ms, layout: JSON.parse(row.layout) as unknown };
    } catch {
      return null;
    }
  }
}

/** What the archive JSON needs beyond the row. */
export interface ArchiveJsonContext {
  apiKey: string;
  /** Base URL of the protected file server, e.g. `http://127.0.0.1:7480`. */
  baseUrl: string;
  /**
   * REST answers: `createdAt` is when recording effectively began and `url` is this link (a
   * signed one). Status callbacks leave it out: `createdAt` is the start call, `url` the
   * Basic-auth file server's (a signed link would expire while a webhook is retried).
   */
  rest?: { url: (archiveId: string, file: string) => string };
}

/** The file an archive's `url` points at: the composition, or the ZIP of the individual files. */
export function archiveFileOf(record: Pick<ArchiveRecord, 'outputMode'>): string {
  return record.outputMode === 'composed' ? 'archive.mp4' : 'archive.zip';
}

/** The archive as OpenTok's REST API and status callbacks show it. */
export function toArchiveJson(
  record: ArchiveRecord,
  streams: ArchiveStream[],
  ctx: ArchiveJsonContext,
): ArchiveJson {
  // OpenTok: url is set only for `available` (null for `uploaded` and the rest).
  const filesHere = record.status === 'available';
  const file = archiveFileOf(record);
  const json: ArchiveJson = {
    id: record.id,
    event: 'archive',
    status: record.status,
    name: record.name,
    reason: record.reason,
    sessionId: record.roomId,
    partnerId: /^\d+$/.test(ctx.apiKey) ? Number(ctx.apiKey) : ctx.apiKey,
    applicationId: ctx.apiKey,
    createdAt:
      ctx.rest !== undefined ? (record.options.recordingStartedAt ?? record.createdAt) : record.createdAt,
    updatedAt: record.updatedAt,
    duration: record.status === 'started' || record.status === 'paused' ? 0 : record.duration,
    size: record.size,
    outputMode: record.outputMode,
    streamMode: record.streamMode,
    hasAudio: record.hasAudio,
    hasVideo: record.hasVideo,
    resolution: record.resolution,
    url: !filesHere
      ? null
      : ctx.rest !== undefined
        ? ctx.rest.url(record.id, file)
        : `${ctx.baseUrl}/files/${record.id}/${file}`,
    streams: record.status === 'started' || record.status === 'paused' ? streams : [],
    password: '',
    sha256sum: '',
    format: record.format,
    roomId: record.roomId,
    expireTime: record.expireAt,
  };
  if (record.multiArchiveTag !== null) json.multiArchiveTag = record.multiArchiveTag;
  if (record.options.recordingMetadata !== undefined)
    json.recordingMetadata = record.options.recordingMetadata;
  if (record.options.splitDuration !== undefined) json.splitDuration = record.options.splitDuration;
  if (record.options.splitOnly !== undefined) json.splitOnly = record.options.splitOnly;
  if (record.options.failureDetail !== undefined) json.detail = record.options.failureDetail;
  return json;
}
