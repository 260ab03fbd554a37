import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { PART_CONCURRENCY } from '../../src/main/delivery/destinations/Destination';
import type { AnyStudioEvent } from '../../src/shared/events';
import { DeliveryHarness, sha256File } from '../helpers/servers/deliveryHarness';
import { createBucket, s3Keys, s3OpenUploads, s3Sha256 } from '../helpers/servers/remote';
import { startSshd, type SshdServer } from '../helpers/servers/sshd';
import { startSwift, type SwiftServer } from '../helpers/servers/swift';
import { startVsftpd, type VsftpdServer } from '../helpers/servers/vsftpd';
import { startServers } from '../helpers/servers/processes';
import { tempDir } from '../helpers/tmp';

const SIZE = 200 * 1024 * 1024;
/** How long the target stays down (a minute in the issue; the retry path is the same). */
const DOWN_MS = 2500;

type Progress = Extract<AnyStudioEvent, { type: 'delivery.progress' }>;

/**
 * Kills a target server in the middle of a 200 MB upload and starts it again later: the file
 * must arrive whole, once, after retries that were refused while the server was down.
 */
describe('delivery survives a target server killed mid-upload', () => {
  let sshd: SshdServer;
  let ftpd: VsftpdServer;
  let swift: SwiftServer;
  let dir: ReturnType<typeof tempDir>;
  let h: DeliveryHarness;

  before(async () => {
    [sshd, ftpd, swift] = await startServers([startSshd(), startVsftpd(), startSwift()] as const);
    await createBucket(swift, 'resume');
  });
  after(async () => {
    await Promise.all([sshd?.close(), ftpd?.close(), swift?.close()]);
  });
  beforeEach(async () => {
    dir = tempDir();
    h = await DeliveryHarness.start({
      dataDir: dir.path,
      settings: { deliveryBackoffBaseSec: 0, deliveryBackoffMaxSec: 1 },
    });
  });
  afterEach(async () => {
    await h.close();
    dir.remove();
  });

  /**
   * Runs the upload, kills the server once `stored()` reaches `killAt` bytes (polled: progress
   * events come at most twice a second, and a local server takes 200 MB in under a second),
   * restarts it DOWN_MS later and waits for the archive to be uploaded. Returns where the
   * attempt after the restart started.
   */
  async function killMidUpload(
    server: { kill(): Promise<void>; restart(): Promise<void> },
    killAt: number,
    stored: (archive: { id: string; roomId: string }, progress: Progress[]) => number,
  ) {
    const archive = await h.createArchive([{ filename: 'big.webm', size: SIZE }]);
    const progress: Progress[] = [];
    h.bus.on('event', (e) => {
      if (e.type === 'delivery.progress') progress.push(e);
    });
    let restartedAt = Infinity;
    let killed: Promise<void> | null = null;
    const poll = setInterval(() => {
      if (killed !== null || stored(archive, progress) < killAt) return;
      killed = server.kill().then(async () => {
        await new Promise((resolve) => setTimeout(resolve, DOWN_MS));
        await server.restart();
        restartedAt = Date.now();
      });
    }, 5);
    try {
      h.available(archive.id);
      await h.archiveReaches(archive.id, 'uploaded', 120_000);
    } finally {
      clearInterval(poll);
    }
    assert.ok(killed !== null, 'the server was killed during the upload');
    await killed;
    const [delivery] = h.delivery.list({ archiveId: archive.id });
    assert.equal(delivery!.status, 'succeeded');
    assert.ok(delivery!.attempts >= 3, `retried while the server was down (${delivery!.attempts} attempts)`);
    const refused = h.events.filter((e) => e.type === 'delivery.failed' && e.data.reason === 'refused');
    assert.ok(refused.length >= 1, 'attempts while the server was down were refused');
    const resumedAt = progress.find((p) => p.createdAt >= restartedAt)?.data.bytes ?? 0;
    return { archive, delivery: delivery!, resumedAt };
  }

  /** Size of the temp file a server is writing (it writes to this machine's disk). */
  const tempSize = (root: string) => (archive: { id: string; roomId: string }) => {
    try {
      return statSync(join(root, archive.roomId, archive.id, 'big.webm.spoolpart')).size;
    } catch {
      return 0;
    }
  };

  it('SFTP: the file arrives whole, once, resumed from the temp file the server kept', async () => {
    h.delivery.createTarget({
      kind: 'sftp',
      allowPrivateNetwork: true,
      name: 'SFTP',
      host: sshd.host,
      port: sshd.port,
      user: sshd.user.name,
      password: sshd.user.password,
      path: sshd.root,
    });
    const { archive, resumedAt } = await killMidUpload(sshd, 48 * 1024 * 1024, tempSize(sshd.root));
    const folder = join(sshd.root, archive.roomId, archive.id);
    assert.equal(await sha256File(join(folder, 'big.webm')), archive.files[0]!.sha256);
    assert.deepEqual(readdirSync(folder), ['big.webm'], 'no temp file left, no second copy');
    assert.ok(resumedAt >= 40 * 1024 * 1024, `the attempt after the restart resumed at ${resumedAt}`);
  });

  it('FTP: the file arrives whole, once, resumed with APPE', async () => {
    h.delivery.createTarget({
      kind: 'ftp',
      allowPrivateNetwork: true,
      name: 'FTP',
      host: ftpd.host,
      port: ftpd.port,
      user: ftpd.user.name,
      password: ftpd.user.password,
      path: ftpd.root,
    });
    const { archive, resumedAt } = await killMidUpload(ftpd, 48 * 1024 * 1024, tempSize(ftpd.root));
    const folder = join(ftpd.root, archive.roomId, archive.id);
    assert.equal(await sha256File(join(folder, 'big.webm')), archive.files[0]!.sha256);
    assert.deepEqual(readdirSync(folder), ['big.webm'], 'no temp file left, no second copy');
    assert.ok(resumedAt >= 40 * 1024 * 1024, `the attempt after the restart resumed at ${resumedAt}`);
  });

  it('FTP without APPE: the file is sent again whole, once', async () => {
    const noAppend = await startVsftpd(['cmds_denied=APPE']);
    try {
      h.delivery.createTarget({
        kind: 'ftp',
        allowPrivateNetwork: true,
        name: 'FTP',
        host: noAppend.host,
        port: noAppend.port,
        user: noAppend.user.name,
        password: noAppend.user.password,
        path: noAppend.root,
      });
      const { archive, resumedAt } = await killMidUpload(noAppend, 48 * 1024 * 1024, tempSize(noAppend.root));
      const folder = join(noAppend.root, archive.roomId, archive.id);
      assert.equal(await sha256File(join(folder, 'big.webm')), archive.files[0]!.sha256);
      assert.deepEqual(readdirSync(folder), ['big.webm']);
      // APPE was tried first; refused, the whole file went again (else it would never arrive).
      assert.ok(resumedAt > 0, 'APPE was tried first');
    } finally {
      await noAppend.close();
    }
  });

  it('S3: the object arrives whole, once, and only parts the store did not have are sent again', async () => {
    h.delivery.createTarget({
      kind: 's3',
      allowPrivateNetwork: true,
      name: 'S3',
      endpoint: swift.endpoint,
      forcePathStyle: true,
      bucket: 'resume',
      accessKeyId: swift.accessKeyId,
      secretAccessKey: swift.secretAccessKey,
    });
    const { archive, delivery, resumedAt } = await killMidUpload(
      swift,
      48 * 1024 * 1024,
      (_archive, progress) => progress.at(-1)?.data.bytes ?? 0,
    );
    const key = `${archive.roomId}/${archive.id}/big.webm`;
    assert.equal(await s3Sha256(swift, 'resume', key), archive.files[0]!.sha256);
    assert.deepEqual(await s3Keys(swift, 'resume'), [key], 'one object');
    assert.deepEqual(await s3OpenUploads(swift, 'resume'), [], 'no multipart upload left open');
    const parts = delivery.parts!;
    assert.equal(parts.total, 25);
    assert.equal(parts.stored, 25);
    const resent = parts.sent - parts.total;
    assert.ok(
      resent >= 0 && resent <= PART_CONCURRENCY,
      `${resent} parts sent again (at most the ${PART_CONCURRENCY} in flight)`,
    );
    assert.ok(resumedAt >= 48 * 1024 * 1024 - PART_CONCURRENCY * 8 * 1024 * 1024, `resumed at ${resumedAt}`);
  });
});
