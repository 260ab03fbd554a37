import assert from 'node:assert/strict';
import { statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { Health } from '../../src/shared/api';
import { startHeadless, type HeadlessCore } from '../helpers/headless';
import { decodeErrors, probe } from '../helpers/probe';
import type { SyntheticPublisher } from '../helpers/publisher';
import { makeClip } from '../helpers/publisher';
import { manifestOf, startPublisher } from '../helpers/recordingChecks';
import { ArchiveApi, OperatorClient, waitFor } from '../helpers/studio';
import { mountTmpfs } from '../helpers/tmpfs';

const MB = 1024 * 1024;

/** Fills the disk of `dir` with a ballast file until `leftBytes` are free. */
function fillUntil(dir: string, leftBytes: number): void {
  const stats = statfsSync(dir);
  const free = stats.bavail * stats.bsize;
  if (free > leftBytes) writeFileSync(join(dir, 'ballast.bin'), Buffer.alloc(free - leftBytes));
}

async function recordUntilFailure(
  t: TestContext,
  env: Record<string, string>,
  leftBytes: number,
  /** `available` when the floor stopped it (files whole); `failed` when a write failed. */
  expected: 'available' | 'failed',
): Promise<void> {
  const disk = mountTmpfs(32);
  if ('skip' in disk) {
    t.skip(disk.skip);
    return;
  }
  let core: HeadlessCore | null = null;
  const publishers: SyntheticPublisher[] = [];
  try {
    const dataDir = join(disk.path, 'data');
    core = await startHeadless({
      dataDir,
      env: {
        SPOOL_SESSION_GRACE_SEC: '60',
        SPOOL_KEYFRAME_INTERVAL_SEC: '1',
        SPOOL_DISK_RESERVE_BYTES: String(MB),
        SPOOL_DISK_CHECK_INTERVAL_MS: '200',
        ...env,
      },
    });
    const operator = await OperatorClient.login(core);
    const api = new ArchiveApi(core.url);
    const room = await operator.createRoom({ name: 'Small disk' });
    const clip = makeClip({ durationSec: 20, videoKbps: 2500 });
    for (let i = 0; i < 2; i++) {
      const token = await operator.createToken(room.id, { connectionData: `Guest ${i}` });
      publishers.push(await startPublisher({ whipUrl: token.whipUrl, token: token.token, clip, loop: true }));
    }
    await waitFor(
      async () => ((await operator.room(room.id)).session?.streams.length ?? 0) === 2,
      15_000,
      'two streams',
    );
    fillUntil(disk.path, leftBytes);
    const archive = await api.start({ sessionId: room.id, outputMode: 'individual' });

    // The archive stops by itself as a failure, naming the full disk.
    const stopped = await waitFor(
      async () => {
        const a = await api.get(archive.id);
        return a.status === 'failed' || a.status === 'available' ? a : undefined;
      },
      90_000,
      'the archive to stop on the full disk',
    );
    assert.equal(stopped.status, expected);
    assert.equal(stopped.reason, 'failure');
    assert.equal(stopped.detail, 'disk full');

    // What reached the disk plays, without decode errors.
    const manifest = manifestOf(dataDir, archive.id);
    assert.equal(manifest.files.length, 2, JSON.stringify(manifest.files));
    for (const file of manifest.files) {
      const path = join(dataDir, 'archives', archive.id, file.filename);
      const info = await probe(path);
      assert.ok(info.duration >= 1, `${file.filename} plays ${info.duration} s`);
      assert.equal(
        await decodeErrors(path),
        '',
        `${file.filename} decodes with errors ${JSON.stringify(file.tracks)} ${JSON.stringify(file.error ?? null)}`,
      );
    }

    // The studio keeps serving, says the disk is full, and refuses a new archive clearly.
    const health = (await (await fetch(`${core.url}/health`)).json()) as Health;
    assert.equal(health.disk.level, 'full');
    const refused = await api.call<{ message: string }>('POST', '/archive', {
      sessionId: room.id,
      outputMode: 'individual',
    });
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.match(refused.body.message, /disk is full/);
    const studio = await operator.ok<{ disk: { level: string; floorBytes: number } }>('GET', '/api/studio');
    assert.equal(studio.disk.level, 'full');
    assert.equal((await operator.room(room.id)).id, room.id);
  } finally {
    for (const p of publishers) await p.close();
    await core?.stop();
    disk.unmount();
  }
}

// Both at once: each has its own core and its own small disk (tmpfs).
describe('disk full', { concurrency: 2 }, () => {
  it(
    'below the disk floor the archive stops as a failure ("disk full"), its files play, the studio serves and refuses new archives',
    { timeout: 180_000 },
    async (t) => {
      // The floor is crossed before the disk is really full: files finalize normally.
      await recordUntilFailure(
        t,
        { SPOOL_DISK_FLOOR_BYTES: String(3 * MB), SPOOL_DISK_WARN_BYTES: String(5 * MB) },
        7 * MB,
        'available',
      );
    },
  );

  it(
    'without a floor a write hits ENOSPC: the archive stops as a failure at once, files end at their last whole cluster and play',
    { timeout: 180_000 },
    async (t) => {
      await recordUntilFailure(
        t,
        { SPOOL_DISK_FLOOR_BYTES: '0', SPOOL_DISK_WARN_BYTES: '0' },
        4 * MB,
        'failed',
      );
    },
  );
});
