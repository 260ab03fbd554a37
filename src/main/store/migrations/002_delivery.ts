import type { Migration } from './types';

/**
 * Delivery targets and the upload queue; webhook registrations, their outbox state and delivery
 * log. Credentials and signing secrets are stored encrypted (base64 of the Encryptor's output).
 */
export const migration002: Migration = {
  version: 2,
  name: 'delivery',
  up(db) {
    db.exec(`
      CREATE TABLE targets (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 1,
        config TEXT NOT NULL DEFAULT '{}',
        secrets TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );

      CREATE TABLE deliveries (
        id TEXT PRIMARY KEY,
        archive_id TEXT NOT NULL REFERENCES archives(id) ON DELETE CASCADE,
        target_id TEXT NOT NULL REFERENCES targets(id) ON DELETE CASCADE,
        file TEXT NOT NULL,
        file_kind TEXT NOT NULL,
        remote_path TEXT NOT NULL,
        url TEXT,
        size INTEGER NOT NULL,
        bytes INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        deadline_at INTEGER NOT NULL,
        last_error TEXT,
        resume TEXT NOT NULL DEFAULT '{}',
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        finished_at INTEGER,
        UNIQUE (archive_id, target_id, file)
      );
      CREATE INDEX deliveries_due ON deliveries(status, next_attempt_at);
      CREATE INDEX deliveries_archive ON deliveries(archive_id);
      CREATE INDEX deliveries_target ON deliveries(target_id);

      -- Position of the delivery service in the events table: events after it are still to be
      -- turned into deliveries (a crash between an event and its deliveries loses nothing).
      CREATE TABLE delivery_state (
        key TEXT PRIMARY KEY,
        value INTEGER NOT NULL
      );
      INSERT INTO delivery_state (key, value) SELECT 'event_cursor', coalesce(max(seq), 0) FROM events;

      CREATE TABLE webhooks (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        url TEXT NOT NULL,
        events TEXT,
        description TEXT,
        enabled INTEGER NOT NULL DEFAULT 1,
        secret TEXT NOT NULL,
        -- Last events.seq turned into messages of this registration.
        cursor INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );

      CREATE TABLE webhook_messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
        event_seq INTEGER NOT NULL,
        event_id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        -- Messages with the same key go out one after the other (the archive id).
        ordering_key TEXT,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        deadline_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        UNIQUE (webhook_id, event_seq)
      );
      CREATE INDEX webhook_messages_due ON webhook_messages(status, next_attempt_at);
      CREATE INDEX webhook_messages_order ON webhook_messages(webhook_id, ordering_key, status, id);

      CREATE TABLE webhook_attempts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
        message_id INTEGER NOT NULL REFERENCES webhook_messages(id) ON DELETE CASCADE,
        attempt INTEGER NOT NULL,
        status_code INTEGER,
        error TEXT,
        duration_ms INTEGER NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX webhook_attempts_webhook ON webhook_attempts(webhook_id, id);
      CREATE INDEX webhook_attempts_message ON webhook_attempts(message_id);
    `);
  },
};
