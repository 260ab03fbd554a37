import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { PART_CONCURRENCY } from '../../src/main/delivery/destinations/Destination';
import { startAzurite, type AzuriteServer } from '../helpers/servers/azurite';
import { DeliveryHarness } from '../helpers/servers/deliveryHarness';
import { DeliveryWorker } from '../helpers/servers/DeliveryWorker';
import {
  blobNames,
  blobSha256,
  containerOf,
  createBucket,
  s3Keys,
  s3OpenUploads,
  s3Sha256,
} from '../helpers/servers/remote';
import { startSwift, type SwiftServer } from '../helpers/servers/swift';
import { startServers } from '../helpers/servers/processes';
import { tempDir } from '../helpers/tmp';

const SIZE = 200 * 1024 * 1024;

describe('delivery survives the core killed (SIGKILL) mid-upload', () => {
  let swift: SwiftServer;
  let azurite: AzuriteServer;
  let dir: ReturnType<typeof tempDir>;
  let parent: DeliveryHarness;
  const workers: DeliveryWorker[] = [];

  before(async () => {
    [swift, azurite] = await startServers([startSwift(), startAzurite()] as const);
    await createBucket(swift, 'crash');
    await containerOf(azurite, 'crash').create();
  });
  after(async () => {
    await Promise.all([swift?.close(), azurite?.close()]);
  });
  beforeEach(async () => {
    dir = tempDir();
    // The test's own view of the store; its services do not run (the worker's do).
    parent = await DeliveryHarness.start({ dataDir: dir.path, start: false });
  });
  afterEach(async () => {
    for (const worker of workers.splice(0)) await worker.kill();
    await parent.close();
    dir.remove();
  });

  /** Queues a 200 MB archive, SIGKILLs the worker mid-upload, starts another and waits for success. */
  async function crashAndResume(target: Record<string, unknown>) {
    parent.delivery.createTarget(target);
    const archive = await parent.createArchive([{ filename: 'big.webm', size: SIZE }]);
    // Published before any worker runs: the worker finds it in the outbox when it starts.
    parent.available(archive.id);
    const first = new DeliveryWorker(dir.path);
    workers.push(first);
    await first.waitFor(
      (e) => e.type === 'delivery.progress' && e.data.bytes >= 48 * 1024 * 1024 && e.data.bytes < SIZE,
    );
    await first.kill('SIGKILL');
    assert.equal(
      first.events.filter((e) => e.type === 'delivery.succeeded').length,
      0,
      'killed before the end',
    );
    const [crashed] = parent.delivery.list({ archiveId: archive.id });
    assert.equal(crashed!.status, 'uploading', 'the row is left as it was at the kill');
    const storedAtKill = crashed!.parts!.stored;
    assert.ok(storedAtKill > 0, 'parts were stored before the kill');

    const second = new DeliveryWorker(dir.path);
    workers.push(second);
    const done = await second.waitFor(
      (e) => e.type === 'delivery.succeeded' || (e.type === 'delivery.failed' && e.data.retryAt === null),
    );
    assert.equal(done.type, 'delivery.succeeded', JSON.stringify(done.data));
    const resumed = second.events.find((e) => e.type === 'delivery.progress');
    assert.ok(
      resumed?.type === 'delivery.progress' && resumed.data.bytes >= storedAtKill * 8 * 1024 * 1024,
      'resumed from stored parts',
    );
    // The worker sets the status right after printing the event; the store is shared.
    for (let i = 0; i < 100 && parent.archives.get(archive.id)!.status !== 'uploaded'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(parent.archives.get(archive.id)!.status, 'uploaded');
    const [delivery] = parent.delivery.list({ archiveId: archive.id });
    const parts = delivery!.parts!;
    assert.equal(parts.stored, parts.total);
    assert.ok(parts.sent - parts.total <= PART_CONCURRENCY, `${parts.sent - parts.total} parts sent twice`);
    return { archive, key: `${archive.roomId}/${archive.id}/big.webm` };
  }

  it('S3: a new core resumes the multipart upload and completes it; one object, no open uploads', async () => {
    const { archive, key } = await crashAndResume({
      kind: 's3',
      allowPrivateNetwork: true,
      name: 'S3',
      endpoint: swift.endpoint,
      forcePathStyle: true,
      bucket: 'crash',
      accessKeyId: swift.accessKeyId,
      secretAccessKey: swift.secretAccessKey,
    });
    assert.equal(await s3Sha256(swift, 'crash', key), archive.files[0]!.sha256);
    assert.deepEqual(await s3Keys(swift, 'crash'), [key]);
    assert.deepEqual(await s3OpenUploads(swift, 'crash'), []);
  });

  it('Azure: a new core stages only the missing blocks and commits the blob once', async () => {
    const { archive, key } = await crashAndResume({
      kind: 'azure',
      allowPrivateNetwork: true,
      name: 'Azure',
      connectionString: azurite.connectionString,
      container: 'crash',
    });
    assert.equal(await blobSha256(azurite, 'crash', key), archive.files[0]!.sha256);
    assert.deepEqual(await blobNames(azurite, 'crash'), [key]);
  });
});
