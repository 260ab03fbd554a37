import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { AnyStudioEvent } from '../../src/shared/events';
import { DeliveryHarness, sha256File, writeTestFile } from '../helpers/servers/deliveryHarness';
import { DeliveryWorker } from '../helpers/servers/DeliveryWorker';
import { tempDir } from '../helpers/tmp';

describe('delivery queue (local folder targets)', () => {
  let dir: ReturnType<typeof tempDir>;
  let nas: ReturnType<typeof tempDir>;
  let h: DeliveryHarness;
  const harnesses: DeliveryHarness[] = [];
  const start = async (
    options: {
      settings?: ConstructorParameters<typeof DeliveryHarness>[0]['settings'];
      start?: boolean;
    } = {},
  ) => {
    const harness = await DeliveryHarness.start({ dataDir: dir.path, ...options });
    harnesses.push(harness);
    return harness;
  };

  beforeEach(async () => {
    dir = tempDir();
    nas = tempDir('spool-nas-');
  });
  afterEach(async () => {
    for (const harness of harnesses.splice(0)) await harness.close();
    dir.remove();
    nas.remove();
  });

  it('gives up after the retry window: the archive stays available with storage fallback', async () => {
    h = await start({ settings: { deliveryRetryWindowSec: 2, storageFallback: true } });
    h.delivery.createTarget({ kind: 'local', name: 'Unmounted', path: join(nas.path, 'not-mounted') });
    const archive = await h.createArchive([{ filename: 'a.webm', size: 1000 }]);
    const gaveUp = h.nextEvent((e) => e.type === 'delivery.failed' && e.data.retryAt === null, 10_000);
    h.available(archive.id);
    const event = await gaveUp;
    assert.equal(event.type === 'delivery.failed' && event.data.reason, 'not-found');
    const [delivery] = h.delivery.list({ archiveId: archive.id });
    assert.equal(delivery!.status, 'failed');
    assert.ok(delivery!.attempts >= 2, 'retried within the window');
    assert.match(delivery!.lastError!.message, /does not exist \(is the drive mounted\?\)/);
    assert.equal(h.archives.get(archive.id)!.status, 'available');
  });

  it('gives up after the retry window: the archive fails without storage fallback, and a manual retry after the fix uploads it', async () => {
    h = await start({ settings: { deliveryRetryWindowSec: 1, storageFallback: false } });
    const folder = join(nas.path, 'later');
    const target = h.delivery.createTarget({ kind: 'local', name: 'Later', path: folder });
    const archive = await h.createArchive([{ filename: 'a.webm', size: 5000 }]);
    h.available(archive.id);
    await h.archiveReaches(archive.id, 'failed', 10_000);
    assert.equal(h.archives.get(archive.id)!.reason, 'failure');

    mkdirSync(folder);
    const [delivery] = h.delivery.list({ archiveId: archive.id });
    const retried = h.delivery.retry(delivery!.id);
    assert.equal(retried.status, 'queued');
    assert.ok(retried.deadlineAt > Date.now(), 'a fresh retry window');
    await h.archiveReaches(archive.id, 'uploaded', 10_000);
    assert.equal(
      await sha256File(join(folder, archive.roomId, archive.id, 'a.webm')),
      archive.files[0]!.sha256,
    );
    assert.equal(h.delivery.get(delivery!.id).targetId, target.id);
  });

  it('fixing a target makes its waiting deliveries run at once, not on the slow schedule', async () => {
    h = await start({ settings: { deliveryBackoffMaxSec: 3600 } });
    const folder = join(nas.path, 'fixed');
    const target = h.delivery.createTarget({ kind: 'local', name: 'Typo', path: join(nas.path, 'fixd') });
    const archive = await h.createArchive([{ filename: 'a.webm', size: 5000 }]);
    const failed = h.nextEvent((e) => e.type === 'delivery.failed');
    h.available(archive.id);
    const event = await failed;
    assert.ok(
      event.type === 'delivery.failed' && event.data.retryAt! > Date.now() + 1_000_000,
      'slow schedule',
    );
    mkdirSync(folder);
    h.delivery.updateTarget(target.id, { path: folder });
    await h.archiveReaches(archive.id, 'uploaded', 5000);
  });

  it('cancels a waiting delivery: it never runs, and the archive settles on the others', async () => {
    h = await start({ settings: { deliveryBackoffMaxSec: 3600 } });
    h.delivery.createTarget({ kind: 'local', name: 'Good', path: nas.path });
    h.delivery.createTarget({ kind: 'local', name: 'Broken', path: join(nas.path, 'missing') });
    const archive = await h.createArchive([{ filename: 'a.webm', size: 2000 }]);
    const failed = h.nextEvent((e) => e.type === 'delivery.failed');
    h.available(archive.id);
    const event = await failed;
    const deliveryId = (event.data as { deliveryId: string }).deliveryId;
    const canceledEvent = h.nextEvent((e) => e.type === 'delivery.canceled');
    const canceled = await h.delivery.cancel(deliveryId);
    assert.equal(canceled.status, 'canceled');
    await canceledEvent;
    await h.archiveReaches(archive.id, 'uploaded', 5000);
    assert.equal((await h.delivery.cancel(deliveryId)).status, 'canceled', 'cancel is idempotent');
  });

  it('removes local files of uploaded archives after the retention time (expired)', async () => {
    h = await start({ settings: { retentionEnabled: true, retentionSec: 1 } });
    h.delivery.createTarget({ kind: 'local', name: 'NAS', path: nas.path });
    const archive = await h.createArchive([
      { filename: 'a.webm', size: 4000 },
      { filename: 'manifest.json', size: 300 },
    ]);
    h.available(archive.id);
    await h.archiveReaches(archive.id, 'uploaded', 5000);
    const uploaded = h.archives.get(archive.id)!;
    assert.ok(
      uploaded.expireAt !== null && uploaded.expireAt > Date.now() - 1000,
      'expire time set at upload',
    );
    assert.ok(existsSync(join(dir.path, 'archives', archive.id, 'a.webm')));
    await h.archiveReaches(archive.id, 'expired', 10_000);
    assert.ok(!existsSync(join(dir.path, 'archives', archive.id)), 'local files removed');
    assert.ok(existsSync(join(nas.path, archive.roomId, archive.id, 'a.webm')), 'the delivered copy stays');
  });

  it('keeps local files when retention is off', async () => {
    h = await start({ settings: { retentionEnabled: false, retentionSec: 0 } });
    h.delivery.createTarget({ kind: 'local', name: 'NAS', path: nas.path });
    const archive = await h.createArchive([{ filename: 'a.webm', size: 4000 }]);
    h.available(archive.id);
    await h.archiveReaches(archive.id, 'uploaded', 5000);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(h.archives.get(archive.id)!.status, 'uploaded');
    assert.ok(existsSync(join(dir.path, 'archives', archive.id, 'a.webm')));
  });

  it('delivers a composition that finishes after the archive was uploaded', async () => {
    h = await start();
    h.delivery.createTarget({ kind: 'local', name: 'NAS', path: nas.path });
    h.delivery.createTarget({
      kind: 'local',
      name: 'Off',
      path: nas.path,
      enabled: false,
      pathTemplate: 'off/{file}',
    });
    const archive = await h.createArchive([{ filename: 's.webm', size: 3000 }]);
    h.available(archive.id);
    await h.archiveReaches(archive.id, 'uploaded', 5000);
    const path = join(dir.path, 'archives', archive.id, 'archive.mp4');
    const sha256 = await writeTestFile(path, 70_000);
    const delivered = h.nextEvent((e) => e.type === 'delivery.succeeded' && e.data.file === 'archive.mp4');
    h.bus.publish(
      'composition.available',
      { compositionId: 'c1', archiveId: archive.id, filename: 'archive.mp4', size: 70_000, duration: 10 },
      { archiveId: archive.id },
    );
    await delivered;
    assert.equal(await sha256File(join(nas.path, archive.roomId, archive.id, 'archive.mp4')), sha256);
    assert.ok(!existsSync(join(nas.path, 'off')), 'a disabled target gets nothing');
    assert.equal(h.delivery.list({ archiveId: archive.id }).length, 2);
  });

  /** Starts a 192 MB copy to a local target and closes the service once 16 MiB are written. */
  async function interruptedUpload() {
    h = await start();
    h.delivery.createTarget({ kind: 'local', name: 'NAS', path: nas.path });
    const archive = await h.createArchive([{ filename: 'big.webm', size: 192 * 1024 * 1024 }]);
    const folder = join(nas.path, archive.roomId, archive.id);
    const temp = join(folder, 'big.webm.spoolpart');
    const size = () => (existsSync(temp) ? statSync(temp).size : 0);
    h.available(archive.id);
    while (size() < 16 * 1024 * 1024) await new Promise((resolve) => setTimeout(resolve, 2));
    await h.close();
    const [row] = (await start({ start: false })).delivery.list({});
    assert.equal(row!.status, 'queued', 'closing put the upload back in the queue');
    assert.ok(size() > 0 && size() < archive.files[0]!.size, 'a partial temp file is left');
    return { archive, folder, partial: size() };
  }

  it('a restart resumes an upload cut short by closing, from the bytes already written', async () => {
    const { archive, folder, partial } = await interruptedUpload();
    const again = await start();
    const resumed = again.nextEvent((e) => e.type === 'delivery.progress');
    await again.archiveReaches(archive.id, 'uploaded', 30_000);
    const first = (await resumed) as Extract<AnyStudioEvent, { type: 'delivery.progress' }>;
    assert.equal(first.data.bytes, partial, 'resumed where the temp file ended');
    assert.equal(await sha256File(join(folder, 'big.webm')), archive.files[0]!.sha256);
    assert.deepEqual(readdirSync(folder), ['big.webm']);
  });

  it('a file rewritten since an interrupted upload is uploaded again from the start', async () => {
    const { archive, folder } = await interruptedUpload();
    const rewritten = await writeTestFile(archive.files[0]!.path, archive.files[0]!.size);
    const again = await start();
    const resumed = again.nextEvent((e) => e.type === 'delivery.progress');
    await again.archiveReaches(archive.id, 'uploaded', 30_000);
    const first = (await resumed) as Extract<AnyStudioEvent, { type: 'delivery.progress' }>;
    assert.equal(first.data.bytes, 0, 'the old temp file was not continued');
    assert.equal(await sha256File(join(folder, 'big.webm')), rewritten);
  });

  it('an archive whose last delivery ended just before a crash is uploaded at the next start', async () => {
    const before = await start({ start: false });
    before.delivery.createTarget({ kind: 'local', name: 'NAS', path: nas.path });
    const archive = await before.createArchive([{ filename: 'a.webm', size: 1000 }]);
    before.available(archive.id);
    await before.close();
    // The delivery is done and its event committed; the process dies before the archive hears of it.
    const worker = new DeliveryWorker(dir.path, {}, { SPOOL_FAULT: 'delivery.afterDone' });
    await worker.exited(60_000).finally(() => worker.kill());
    assert.equal(worker.child.signalCode, 'SIGKILL', 'the worker died at the fault point');
    h = await start({ start: false });
    assert.deepEqual(
      h.delivery.list({ archiveId: archive.id }).map((d) => d.status),
      ['succeeded'],
    );
    assert.equal(h.archives.get(archive.id)?.status, 'available', 'the crash left it unsettled');
    h.startServices();
    await h.archiveReaches(archive.id, 'uploaded', 5000);
  });

  it('queues deliveries for archives that became available while the service was down', async () => {
    const before = await start({ start: false });
    before.delivery.createTarget({ kind: 'local', name: 'NAS', path: nas.path });
    const archive = await before.createArchive([{ filename: 'a.webm', size: 1000 }]);
    before.available(archive.id);
    assert.equal(before.delivery.list({}).length, 0);
    await before.close();
    h = await start();
    await h.archiveReaches(archive.id, 'uploaded', 5000);
    assert.equal(h.delivery.list({}).length, 1);
  });

  it('stops the deliveries of a deleted archive', async () => {
    h = await start({ settings: { deliveryBackoffMaxSec: 3600 } });
    h.delivery.createTarget({ kind: 'local', name: 'Broken', path: join(nas.path, 'missing') });
    const archive = await h.createArchive([{ filename: 'a.webm', size: 1000 }]);
    const failed = h.nextEvent((e) => e.type === 'delivery.failed');
    h.available(archive.id);
    await failed;
    const canceled = h.nextEvent((e) => e.type === 'delivery.canceled');
    h.archiveStatus.set(archive.id, 'deleted');
    await canceled;
    assert.deepEqual(
      h.delivery.list({ archiveId: archive.id }).map((d) => d.status),
      ['canceled'],
    );
  });
});
