import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { MIGRATIONS } from '../../src/main/store/migrations/index';
import { Store } from '../../src/main/store/Store';
import { tempDir } from '../helpers/tmp';

describe('migration 004 (saved layouts)', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => dir.remove());

  it('adds the layouts table to a database holding rooms and archives, keeping them', () => {
    const path = join(dir.path, 'db.sqlite');
    const old = new Store({ path, migrations: MIGRATIONS.slice(0, 3) });
    old.db.prepare("INSERT INTO rooms (id, name, created_at, updated_at) VALUES ('r1', 'Room', 1, 1)").run();
    old.db
      .prepare(
        `INSERT INTO archives (id, room_id, status, output_mode, stream_mode, has_audio, has_video, format, created_at, updated_at)
         VALUES ('a1', 'r1', 'available', 'individual', 'auto', 1, 1, 'webm', 1, 1)`,
      )
      .run();
    old.close();
    const store = new Store({ path, migrations: MIGRATIONS.slice(0, 4) });
    assert.equal(store.version, 4);
    assert.deepEqual(store.db.prepare('SELECT id FROM archives').all(), [{ id: 'a1' }]);
    store.db
      .prepare(
        "INSERT INTO layouts (id, name, resolution, layout, created_at, updated_at) VALUES ('l1', 'Interview', '1280x720', '{}', 1, 1)",
      )
      .run();
    assert.throws(
      () =>
        store.db
          .prepare(
            "INSERT INTO layouts (id, name, resolution, layout, created_at, updated_at) VALUES ('l2', 'Interview', '1280x720', '{}', 1, 1)",
          )
          .run(),
      /UNIQUE/,
    );
    store.close();
  });
});
