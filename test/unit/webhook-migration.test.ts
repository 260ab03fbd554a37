import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { MIGRATIONS } from '../../src/main/store/migrations/index';
import { Store } from '../../src/main/store/Store';
import { tempDir } from '../helpers/tmp';

describe('migration 005 (per-webhook allowPrivateNetwork)', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => dir.remove());

  it('keeps the webhooks of a version-4 database, which follow the studio-wide setting (NULL)', () => {
    const path = join(dir.path, 'db.sqlite');
    const old = new Store({ path, migrations: MIGRATIONS.slice(0, 4) });
    old.db
      .prepare(
        `INSERT INTO webhooks (id, kind, url, events, description, enabled, secret, cursor, created_at, updated_at)
         VALUES ('w1', 'studio', 'https://example.com/hook', NULL, NULL, 1, 'c2VjcmV0', 7, 1, 1)`,
      )
      .run();
    old.close();
    const store = new Store({ path, migrations: MIGRATIONS.slice(0, 5) });
    assert.equal(store.version, 5);
    assert.deepEqual(store.db.prepare('SELECT id, cursor, allow_private_network FROM webhooks').all(), [
      { id: 'w1', cursor: 7, allow_private_network: null },
    ]);
    store.close();
  });
});
