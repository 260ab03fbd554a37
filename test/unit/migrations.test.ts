import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { MIGRATIONS } from '../../src/main/store/migrations/index';
import { Store } from '../../src/main/store/Store';
import { tempDir } from '../helpers/tmp';

describe('store migrations', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => dir.remove());

  it('numbers migrations 1, 2, 3… without gaps', () => {
    MIGRATIONS.forEach((m, i) => assert.equal(m.version, i + 1, `migration ${m.name}`));
  });

  it('001 creates every table of the design, in WAL mode', () => {
    const store = new Store({ path: join(dir.path, 'db.sqlite'), migrations: MIGRATIONS.slice(0, 1) });
    const tables = (
      store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>
    ).map((r) => r.name);
    for (const table of [
      'rooms',
      'sessions',
      'connections',
      'streams',
      'archives',
      'archive_streams',
      'archive_files',
      'layout_changes',
      'events',
    ]) {
      assert.ok(tables.includes(table), `table ${table}`);
    }
    assert.equal(store.db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(store.version, 1);
    store.close();
  });

  it('001 keeps rows when the database is opened and migrated again', () => {
    const path = join(dir.path, 'db.sqlite');
    const first = new Store({ path, migrations: MIGRATIONS.slice(0, 1) });
    first.db
      .prepare("INSERT INTO rooms (id, name, created_at, updated_at) VALUES ('r1', 'Room', 1, 1)")
      .run();
    first.db
      .prepare("INSERT INTO events (id, type, data, created_at) VALUES ('e1', 'studio.started', '{}', 1)")
      .run();
    first.close();
    const second = new Store({ path });
    assert.equal(second.version, MIGRATIONS.length);
    assert.deepEqual(second.db.prepare('SELECT id, name FROM rooms').all(), [{ id: 'r1', name: 'Room' }]);
    assert.equal((second.db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n, 1);
    second.close();
  });

  it('close is idempotent', () => {
    const store = new Store({ path: ':memory:' });
    store.close();
    store.close();
    assert.equal(store.closed, true);
  });
});
