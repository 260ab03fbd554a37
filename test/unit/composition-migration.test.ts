import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { migration003 } from '../../src/main/store/migrations/003_compositions';
import { MIGRATIONS } from '../../src/main/store/migrations/index';
import { CompositionHookRepository } from '../../src/main/store/CompositionHookRepository';
import { CompositionRepository } from '../../src/main/store/CompositionRepository';
import { Store } from '../../src/main/store/Store';
import { tempDir } from '../helpers/tmp';

describe('migration 003 (compositions)', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => dir.remove());

  it('is registered as version 3', () => {
    assert.equal(migration003.version, 3);
    assert.ok(MIGRATIONS.includes(migration003));
  });

  it('migrates a database holding archives and keeps every row', () => {
    const path = join(dir.path, 'db.sqlite');
    const before = MIGRATIONS.slice(0, MIGRATIONS.indexOf(migration003));
    const old = new Store({ path, migrations: before });
    old.db
      .prepare(
        `INSERT INTO archives (id, room_id, status, output_mode, stream_mode, has_audio, has_video, format, created_at, updated_at)
         VALUES ('a1', 'r1', 'available', 'composed', 'auto', 1, 1, 'webm', 1, 1)`,
      )
      .run();
    old.db
      .prepare(
        "INSERT INTO archive_files (archive_id, filename, kind, size) VALUES ('a1', 's1.webm', 'media', 10)",
      )
      .run();
    old.db
      .prepare(
        'INSERT INTO layout_changes (archive_id, at_ms, layout) VALUES (\'a1\', 10000, \'{"type":"pip"}\')',
      )
      .run();
    assert.ok(old.version < 3);
    old.close();

    const store = new Store({ path });
    assert.equal(store.version, MIGRATIONS.at(-1)!.version);
    assert.deepEqual(store.db.prepare('SELECT id, status FROM archives').all(), [
      { id: 'a1', status: 'available' },
    ]);
    assert.equal((store.db.prepare('SELECT count(*) AS n FROM archive_files').get() as { n: number }).n, 1);
    assert.equal((store.db.prepare('SELECT count(*) AS n FROM layout_changes').get() as { n: number }).n, 1);

    const repo = new CompositionRepository(store.db);
    const spec = {
      audioSources: ['*'],
      audioSourcesExcluded: [],
      videoLayout: { type: 'bestFit' as const },
      resolution: '640x480',
      format: 'mp4' as const,
      videoCodec: 'h264' as const,
      trim: true,
      maxBitrate: null,
    };
    repo.insert({
      id: 'c1',
      archiveId: 'a1',
      roomId: 'r1',
      kind: 'composition',
      hookId: null,
      status: 'enqueued',
      spec,
      filename: null,
      size: 0,
      duration: 0,
      progress: 0,
      attempts: 0,
      error: null,
      createdAt: 1,
      startedAt: null,
      completedAt: null,
      updatedAt: 1,
    });
    assert.deepEqual(repo.get('c1')?.spec, spec);
    assert.equal(repo.nextEnqueued()?.id, 'c1');
    new CompositionHookRepository(store.db).save({
      id: 'h1',
      friendlyName: 'All rooms',
      enabled: true,
      roomId: null,
      spec,
      createdAt: 1,
      updatedAt: 1,
    });
    assert.equal(new CompositionHookRepository(store.db).forRoom('r1').length, 1);
    store.close();

    // Opening again changes nothing and keeps the new rows.
    const again = new Store({ path });
    assert.equal(new CompositionRepository(again.db).get('c1')?.status, 'enqueued');
    again.close();
  });

  it('deleting an archive row deletes its compositions', () => {
    const store = new Store({ path: ':memory:' });
    store.db
      .prepare(
        `INSERT INTO archives (id, room_id, status, output_mode, stream_mode, has_audio, has_video, format, created_at, updated_at)
         VALUES ('a1', 'r1', 'available', 'composed', 'auto', 1, 1, 'webm', 1, 1)`,
      )
      .run();
    store.db
      .prepare(
        `INSERT INTO compositions (id, archive_id, room_id, kind, status, spec, created_at, updated_at)
         VALUES ('c1', 'a1', 'r1', 'archive', 'completed', '{}', 1, 1)`,
      )
      .run();
    store.db.prepare("DELETE FROM archives WHERE id = 'a1'").run();
    assert.equal((store.db.prepare('SELECT count(*) AS n FROM compositions').get() as { n: number }).n, 0);
    store.close();
  });
});
