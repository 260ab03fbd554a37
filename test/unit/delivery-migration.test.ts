import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { MIGRATIONS } from '../../src/main/store/migrations/index';
import { Store } from '../../src/main/store/Store';
import { tempDir } from '../helpers/tmp';

describe('migration 002 (delivery and webhooks)', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => dir.remove());

  it('keeps the rows of a version-1 database and adds the delivery tables', () => {
    const path = join(dir.path, 'db.sqlite');
    const old = new Store({ path, migrations: MIGRATIONS.slice(0, 1) });
    old.db.prepare("INSERT INTO rooms (id, name, created_at, updated_at) VALUES ('r1', 'Room', 1, 1)").run();
    old.db
      .prepare(
        `INSERT INTO archives (id, room_id, status, output_mode, stream_mode, has_audio, has_video, format, created_at, updated_at)
         VALUES ('a1', 'r1', 'available', 'individual', 'auto', 1, 1, 'webm', 1, 1)`,
      )
      .run();
    old.db
      .prepare(
        "INSERT INTO archive_files (archive_id, filename, kind) VALUES ('a1', 'manifest.json', 'manifest')",
      )
      .run();
    for (const [id, seq] of [
      ['e1', 1],
      ['e2', 2],
      ['e3', 3],
    ] as const) {
      old.db
        .prepare(
          "INSERT INTO events (seq, id, type, data, created_at) VALUES (?, ?, 'archive.available', '{}', 1)",
        )
        .run(seq, id);
    }
    old.close();

    const store = new Store({ path });
    const db = store.db;
    assert.ok(store.version >= 2);
    assert.deepEqual(db.prepare('SELECT id, name FROM rooms').all(), [{ id: 'r1', name: 'Room' }]);
    assert.deepEqual(db.prepare('SELECT id, status FROM archives').all(), [
      { id: 'a1', status: 'available' },
    ]);
    assert.equal((db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n, 3);
    // Events before the migration are history: delivery starts after them.
    assert.deepEqual(db.prepare('SELECT key, value FROM delivery_state').all(), [
      { key: 'event_cursor', value: 3 },
    ]);

    db.prepare(
      "INSERT INTO targets (id, kind, name, config, created_at, updated_at) VALUES ('t1', 'local', 'NAS', '{}', 1, 1)",
    ).run();
    db.prepare(
      `INSERT INTO deliveries (id, archive_id, target_id, file, file_kind, remote_path, size, status, deadline_at, created_at, updated_at)
       VALUES ('d1', 'a1', 't1', 'manifest.json', 'manifest', 'r1/a1/manifest.json', 10, 'queued', 9, 1, 1)`,
    ).run();
    assert.throws(
      () =>
        db
          .prepare(
            `INSERT INTO deliveries (id, archive_id, target_id, file, file_kind, remote_path, size, status, deadline_at, created_at, updated_at)
             VALUES ('d2', 'a1', 't1', 'manifest.json', 'manifest', 'x', 10, 'queued', 9, 1, 1)`,
          )
          .run(),
      /UNIQUE/,
    );
    db.prepare(
      "INSERT INTO webhooks (id, kind, url, secret, cursor, created_at, updated_at) VALUES ('w1', 'studio', 'http://x', 's', 3, 1, 1)",
    ).run();
    db.prepare(
      `INSERT INTO webhook_messages (webhook_id, event_seq, event_id, event_type, status, next_attempt_at, deadline_at, created_at, updated_at)
       VALUES ('w1', 3, 'e3', 'archive.available', 'pending', 1, 2, 1, 1)`,
    ).run();
    db.prepare(
      "INSERT INTO webhook_attempts (webhook_id, message_id, attempt, duration_ms, created_at) VALUES ('w1', 1, 1, 5, 1)",
    ).run();
    // Removing a target or a webhook removes what hangs off it.
    db.prepare("DELETE FROM targets WHERE id = 't1'").run();
    db.prepare("DELETE FROM webhooks WHERE id = 'w1'").run();
    for (const table of ['deliveries', 'webhook_messages', 'webhook_attempts']) {
      assert.equal((db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n, 0, table);
    }
    store.close();
  });

  it('starts the event cursor at 0 on an empty database', () => {
    const store = new Store({ path: join(dir.path, 'new.sqlite') });
    assert.deepEqual(store.db.prepare('SELECT value FROM delivery_state').get(), { value: 0 });
    store.close();
  });
});
