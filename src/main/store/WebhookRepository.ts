import type BetterSqlite3 from 'better-sqlite3';
import type { WebhookDeliveryJson, WebhookKind, WebhookMessageStatus } from '../../shared/webhooks';
import type { Encryptor } from '../security/SecretBox';

/** A webhook registration, its signing secret decrypted. */
export interface WebhookRecord {
  id: string;
  kind: WebhookKind;
  url: string;
  /** Event filters; null: every event. */
  events: string[] | null;
  description: string | null;
  enabled: boolean;
  /** Receivers on loopback/private addresses allowed; null: the studio-wide setting decides. */
  allowPrivateNetwork: boolean | null;
  /** Standard Webhooks secret (`whsec_…`). */
  secret: string;
  /** Last events.seq turned into messages. */
  cursor: number;
  createdAt: number;
  updatedAt: number;
}

/** One event to deliver to one registration. */
export interface WebhookMessageRecord {
  id: number;
  webhookId: string;
  eventSeq: number;
  eventId: string;
  eventType: string;
  orderingKey: string | null;
  status: WebhookMessageStatus;
  attempts: number;
  nextAttemptAt: number;
  deadlineAt: number;
  createdAt: number;
}

interface WebhookRow {
  id: string;
  kind: string;
  url: string;
  events: string | null;
  description: string | null;
  enabled: number;
  allow_private_network: number | null;
  secret: string;
  cursor: number;
  created_at: number;
  updated_at: number;
}

interface MessageRow {
  id: number;
  webhook_id: string;
  event_seq: number;
  event_id: string;
  event_type: string;
  ordering_key: string | null;
  status: string;
  attempts: number;
  next_attempt_at: number;
  deadline_at: number;
  created_at: number;
}

const toMessage = (row: MessageRow): WebhookMessageRecord => ({
  id: row.id,
  webhookId: row.webhook_id,
  eventSeq: row.event_seq,
  eventId: row.event_id,
  eventType: row.event_type,
  orderingKey: row.ordering_key,
  status: row.status as WebhookMessageStatus,
  attempts: row.attempts,
  nextAttemptAt: row.next_attempt_at,
  deadlineAt: row.deadline_at,
  createdAt: row.created_at,
});

/** A message to add: one event for one registration. */
export type NewWebhookMessage = Pick<
  WebhookMessageRecord,
  'webhookId' | 'eventSeq' | 'eventId' | 'eventType' | 'orderingKey' | 'nextAttemptAt' | 'deadlineAt'
>;

/** Webhook registrations, their outbox messages and the log of delivery attempts. */
export class WebhookRepository {
  readonly #db: BetterSqlite3.Database;
  readonly #encryptor: Encryptor;

  constructor(db: BetterSqlite3.Database, encryptor: Encryptor) {
    this.#db = db;
    this.#encryptor = encryptor;
  }

  #toRecord(row: WebhookRow): WebhookRecord {
    return {
      id: row.id,
      kind: row.kind as WebhookKind,
      url: row.url,
      events: row.events === null ? null : (JSON.parse(row.events) as string[]),
      description: row.description,
      enabled: row.enabled === 1,
      allowPrivateNetwork: row.allow_private_network === null ? null : row.allow_private_network === 1,
      secret: this.#encryptor.decrypt(Buffer.from(row.secret, 'base64')),
      cursor: row.cursor,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  insert(record: WebhookRecord): void {
    this.#db
      .prepare(
        `INSERT INTO webhooks (id, kind, url, events, description, enabled, allow_private_network, secret, cursor,
           created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        record.id,
        record.kind,
        record.url,
        record.events === null ? null : JSON.stringify(record.events),
        record.description,
        record.enabled ? 1 : 0,
        record.allowPrivateNetwork === null ? null : record.allowPrivateNetwork ? 1 : 0,
        this.#encryptor.encrypt(record.secret).toString('base64'),
        record.cursor,
        record.createdAt,
        record.updatedAt,
      );
  }

  update(
    record: Pick<
      WebhookRecord,
      'id' | 'url' | 'events' | 'description' | 'enabled' | 'allowPrivateNetwork' | 'updatedAt'
    >,
  ): void {
    this.#db
      .prepare(
        `UPDATE webhooks SET url = ?, events = ?, description = ?, enabled = ?, allow_private_network = ?,
           updated_at = ? WHERE id = ?`,
      )
      .run(
        record.url,
        record.events === null ? null : JSON.stringify(record.events),
        record.description,
        record.enabled ? 1 : 0,
        record.allowPrivateNetwork === null ? null : record.allowPrivateNetwork ? 1 : 0,
        record.updatedAt,
        record.id,
      );
  }

  /**
   * Hands a registration's undelivered messages (and their attempt log) to another one, e.g. when
   * a status callback moves to a new URL; answers how many moved.
   */
  movePending(fromId: string, toId: string, now: number): number {
    return this.#db.transaction(() => {
      this.#db
        .prepare(
          `UPDATE webhook_attempts SET webhook_id = ? WHERE message_id IN
             (SELECT id FROM webhook_messages WHERE webhook_id = ? AND status = 'pending')`,
        )
        .run(toId, fromId);
      return this.#db
        .prepare(
          "UPDATE webhook_messages SET webhook_id = ?, updated_at = ? WHERE webhook_id = ? AND status = 'pending'",
        )
        .run(toId, now, fromId).changes;
    })();
  }

  /** Disables a registration; false when it was disabled (or gone) already. */
  disable(id: string, now: number): boolean {
    return (
      this.#db
        .prepare('UPDATE webhooks SET enabled = 0, updated_at = ? WHERE id = ? AND enabled = 1')
        .run(now, id).changes > 0
    );
  }

  get(id: string): WebhookRecord | null {
    const row = this.#db.prepare('SELECT * FROM webhooks WHERE id = ?').get(id) as WebhookRow | undefined;
    return row === undefined ? null : this.#toRecord(row);
  }

  list(kind?: WebhookKind): WebhookRecord[] {
    const rows = (
      kind === undefined
        ? this.#db.prepare('SELECT * FROM webhooks ORDER BY created_at, id').all()
        : this.#db.prepare('SELECT * FROM webhooks WHERE kind = ? ORDER BY created_at, id').all(kind)
    ) as WebhookRow[];
    return rows.map((row) => this.#toRecord(row));
  }

  delete(id: string): boolean {
    return this.#db.prepare('DELETE FROM webhooks WHERE id = ?').run(id).changes > 0;
  }

  /** The newest event's seq: a new registration starts after it. */
  lastEventSeq(): number {
    return (this.#db.prepare('SELECT coalesce(max(seq), 0) AS seq FROM events').get() as { seq: number }).seq;
  }

  /** Adds messages and moves the registration's cursor past the events they came from, together. */
  fanOut(webhookId: string, messages: NewWebhookMessage[], cursor: number, now: number): void {
    const insert = this.#db.prepare(
      `INSERT INTO webhook_messages (webhook_id, event_seq, event_id, event_type, ordering_key, status, attempts,
         next_attempt_at, deadline_at, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?) ON CONFLICT (webhook_id, event_seq) DO NOTHING`,
    );
    this.#db.transaction(() => {
      for (const m of messages) {
        insert.run(
          m.webhookId,
          m.eventSeq,
          m.eventId,
          m.eventType,
          m.orderingKey,
          m.nextAttemptAt,
          m.deadlineAt,
          now,
          now,
        );
      }
      this.#db.prepare('UPDATE webhooks SET cursor = max(cursor, ?) WHERE id = ?').run(cursor, webhookId);
    })();
  }

  /**
   * Due messages of enabled registrations that are first in line: a message waits while an
   * older message with the same ordering key (its archive) is still pending.
   */
  due(now: number, limit: number, running: ReadonlySet<number>): WebhookMessageRecord[] {
    if (limit <= 0) return [];
    const rows = this.#db
      .prepare(
        `SELECT m.* FROM webhook_messages m JOIN webhooks w ON w.id = m.webhook_id
         WHERE m.status = 'pending' AND m.next_attempt_at <= ? AND w.enabled = 1
           AND (m.ordering_key IS NULL OR NOT EXISTS (
             SELECT 1 FROM webhook_messages p WHERE p.webhook_id = m.webhook_id AND p.ordering_key = m.ordering_key
               AND p.status = 'pending' AND p.id < m.id))
         ORDER BY m.next_attempt_at, m.id LIMIT ?`,
      )
      .all(now, limit + running.size) as MessageRow[];
    return rows
      .filter((row) => !running.has(row.id))
      .slice(0, limit)
      .map(toMessage);
  }

  nextDueAt(): number | null {
    const row = this.#db
      .prepare(
        `SELECT min(m.next_attempt_at) AS at FROM webhook_messages m JOIN webhooks w ON w.id = m.webhook_id
         WHERE m.status = 'pending' AND w.enabled = 1`,
      )
      .get() as { at: number | null };
    return row.at;
  }

  /** Records an attempt and where the message stands after it. */
  recordAttempt(
    message: WebhookMessageRecord,
    attempt: { statusCode: number | null; error: string | null; durationMs: number; at: number },
    outcome: { status: WebhookMessageStatus; nextAttemptAt: number },
  ): void {
    this.#db.transaction(() => {
      this.#db
        .prepare(
          `INSERT INTO webhook_attempts (webhook_id, message_id, attempt, status_code, error, duration_ms, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          message.webhookId,
          message.id,
          message.attempts + 1,
          attempt.statusCode,
          attempt.error,
          attempt.durationMs,
          attempt.at,
        );
      this.#db
        .prepare(
          'UPDATE webhook_messages SET status = ?, attempts = attempts + 1, next_attempt_at = ?, updated_at = ? WHERE id = ?',
        )
        .run(outcome.status, outcome.nextAttemptAt, attempt.at, message.id);
    })();
  }

  /** Messages still to deliver to a registration. */
  pendingCount(webhookId: string): number {
    return (
      this.#db
        .prepare("SELECT count(*) AS n FROM webhook_messages WHERE webhook_id = ? AND status = 'pending'")
        .get(webhookId) as { n: number }
    ).n;
  }

  /** The delivery log of a registration, newest attempt first. */
  attempts(webhookId: string, limit: number): WebhookDeliveryJson[] {
    const rows = this.#db
      .prepare(
        `SELECT a.id, m.event_id, m.event_type, m.event_seq, m.ordering_key, a.attempt, a.status_code, a.error,
           a.duration_ms, a.created_at, m.status
         FROM webhook_attempts a JOIN webhook_messages m ON m.id = a.message_id
         WHERE a.webhook_id = ? ORDER BY a.id DESC LIMIT ?`,
      )
      .all(webhookId, limit) as Array<{
      id: number;
      event_id: string;
      event_type: string;
      event_seq: number;
      ordering_key: string | null;
      attempt: number;
      status_code: number | null;
      error: string | null;
      duration_ms: number;
      created_at: number;
      status: string;
    }>;
    return rows.map((row) => ({
      id: row.id,
      messageId: row.event_id,
      eventType: row.event_type,
      eventSeq: row.event_seq,
      archiveId: row.ordering_key,
      attempt: row.attempt,
      statusCode: row.status_code,
      error: row.error,
      durationMs: row.duration_ms,
      at: row.created_at,
      messageStatus: row.status as WebhookMessageStatus,
    }));
  }

  /** Drops finished messages (and their attempts) older than `before`: the log stays bounded. */
  prune(before: number): number {
    return this.#db
      .prepare("DELETE FROM webhook_messages WHERE status != 'pending' AND updated_at < ?")
      .run(before).changes;
  }
}
