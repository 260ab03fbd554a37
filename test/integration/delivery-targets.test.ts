import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import type { DeliveryEventPayloads } from '../../src/shared/events/deliveries';
import type { DeliveryJson } from '../../src/shared/targets';
import { startAzurite, type AzuriteServer } from '../helpers/servers/azurite';
import { DeliveryHarness, sha256File } from '../helpers/servers/deliveryHarness';
import {
  azuriteSas,
  blobNames,
  blobSha256,
  containerOf,
  createBucket,
  s3Keys,
  s3OpenUploads,
  s3Sha256,
} from '../helpers/servers/remote';
import { startSshd, type SshdServer } from '../helpers/servers/sshd';
import { startSwift, type SwiftServer } from '../helpers/servers/swift';
import { startVsftpd, type VsftpdServer } from '../helpers/servers/vsftpd';
import { startServers } from '../helpers/servers/processes';
import { tempDir } from '../helpers/tmp';

/** A target config as the API takes it (checked by the service, not here). */
type Config = Record<string, unknown> & { name?: string };

/** Every file under a folder, relative, sorted. */
function filesUnder(root: string, dir = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, dir))) {
    const rel = dir === '' ? name : `${dir}/${name}`;
    if (statSync(join(root, rel)).isDirectory()) out.push(...filesUnder(root, rel));
    else out.push(rel);
  }
  return out.sort();
}

describe('delivery to real servers', () => {
  let sshd: SshdServer;
  let ftpd: VsftpdServer;
  let swift: SwiftServer;
  let azurite: AzuriteServer;
  let dir: ReturnType<typeof tempDir>;
  let nas: ReturnType<typeof tempDir>;
  let h: DeliveryHarness;

  before(async () => {
    [sshd, ftpd, swift, azurite] = await startServers([
      startSshd(),
      startVsftpd(),
      startSwift(),
      startAzurite(),
    ] as const);
    await createBucket(swift, 'spool');
    await containerOf(azurite, 'spool').create();
  });
  after(async () => {
    await Promise.all([sshd?.close(), ftpd?.close(), swift?.close(), azurite?.close()]);
  });
  beforeEach(async () => {
    dir = tempDir();
    nas = tempDir('spool-nas-');
    h = await DeliveryHarness.start({ dataDir: dir.path });
  });
  afterEach(async () => {
    await h.close();
    dir.remove();
    nas.remove();
  });

  const ftp = (extra: Partial<Config> = {}): Config => ({
    kind: 'ftp' as const,
    allowPrivateNetwork: true,
    name: 'FTP',
    host: ftpd.host,
    port: ftpd.port,
    user: ftpd.user.name,
    password: ftpd.user.password,
    path: ftpd.root,
    ...extra,
  });
  const sftp = (extra: Partial<Config> = {}): Config => ({
    kind: 'sftp' as const,
    allowPrivateNetwork: true,
    name: 'SFTP',
    host: sshd.host,
    port: sshd.port,
    user: sshd.user.name,
    password: sshd.user.password,
    path: sshd.root,
    ...extra,
  });
  const s3 = (extra: Partial<Config> = {}): Config => ({
    kind: 's3' as const,
    allowPrivateNetwork: true,
    name: 'S3',
    endpoint: swift.endpoint,
    forcePathStyle: true,
    bucket: 'spool',
    accessKeyId: swift.accessKeyId,
    secretAccessKey: swift.secretAccessKey,
    ...extra,
  });
  const azure = (extra: Partial<Config> = {}): Config => ({
    kind: 'azure' as const,
    allowPrivateNetwork: true,
    name: 'Azure',
    connectionString: azurite.connectionString,
    container: 'spool',
    ...extra,
  });

  it("an archive's files arrive at every kind of target, whole (equal sha256), under the templated path", async () => {
    const targets = [
      h.delivery.createTarget({ kind: 'local', name: 'NAS', path: nas.path }),
      h.delivery.createTarget(ftp({ name: 'FTP', pathTemplate: '{roomName}/{date}/{archiveId}/{file}' })),
      h.delivery.createTarget(
        ftp({
          name: 'FTPS',
          secure: true,
          certificateFingerprint: ftpd.certificateFingerprint,
          pathTemplate: 'tls/{archiveId}/{file}',
        }),
      ),
      h.delivery.createTarget(
        sftp({
          password: undefined,
          privateKey: sshd.privateKey,
          hostKeyFingerprint: sshd.hostKeyFingerprint,
        }),
      ),
      h.delivery.createTarget(s3({ prefix: 'recordings/' })),
      h.delivery.createTarget(
        azure({
          connectionString: undefined,
          accountUrl: azurite.accountUrl,
          sasToken: azuriteSas(azurite),
          prefix: 'rec',
        }),
      ),
    ];
    h.store.db
      .prepare('INSERT INTO rooms (id, name, created_at, updated_at) VALUES (?, ?, 1, 1)')
      .run('room-a', 'Morning show');
    const archive = await h.createArchive(
      [
        { filename: 'manifest.json', size: 700 },
        // Bigger than a part: S3 multipart and several Azure blocks.
        { filename: 'stream-1.webm', size: 20 * 1024 * 1024 + 12345 },
        { filename: 'split/stream-1_0001.webm', size: 300_000 },
      ],
      { roomId: 'room-a' },
    );
    const succeeded: Array<DeliveryEventPayloads['delivery.succeeded']> = [];
    h.bus.on('event', (e) => {
      if (e.type === 'delivery.succeeded') succeeded.push(e.data);
    });
    h.available(archive.id);
    await h.archiveReaches(archive.id, 'uploaded');

    const deliveries = h.delivery.list({ archiveId: archive.id });
    assert.equal(deliveries.length, targets.length * archive.files.length);
    // A busy machine may need a second attempt (a transient error); every file still lands whole.
    for (const d of deliveries) {
      assert.ok(
        d.status === 'succeeded' && d.bytes === d.size,
        `${d.targetName} ${d.file}: ${d.status} ${JSON.stringify(d.lastError)}`,
      );
    }
    const date = new Date(h.archives.get(archive.id)!.createdAt).toISOString().slice(0, 10);
    const expected: Record<string, (file: string) => string> = {
      NAS: (f) => `room-a/${archive.id}/${f}`,
      FTP: (f) => `Morning show/${date}/${archive.id}/${f}`,
      FTPS: (f) => `tls/${archive.id}/${f}`,
      SFTP: (f) => `room-a/${archive.id}/${f}`,
      S3: (f) => `room-a/${archive.id}/${f}`,
      Azure: (f) => `room-a/${archive.id}/${f}`,
    };
    for (const file of archive.files) {
      const remote = (name: string) => expected[name]!(file.filename);
      assert.equal(await sha256File(join(nas.path, remote('NAS'))), file.sha256, `local ${file.filename}`);
      // vsftpd and sshd write to this machine's disk: read what the server wrote.
      assert.equal(await sha256File(join(ftpd.root, remote('FTP'))), file.sha256, `ftp ${file.filename}`);
      assert.equal(await sha256File(join(ftpd.root, remote('FTPS'))), file.sha256, `ftps ${file.filename}`);
      assert.equal(await sha256File(join(sshd.root, remote('SFTP'))), file.sha256, `sftp ${file.filename}`);
      assert.equal(
        await s3Sha256(swift, 'spool', `recordings/${remote('S3')}`),
        file.sha256,
        `s3 ${file.filename}`,
      );
      assert.equal(
        await blobSha256(azurite, 'spool', `rec/${remote('Azure')}`),
        file.sha256,
        `azure ${file.filename}`,
      );
    }
    // Nothing else was left behind: no temp files, no open multipart uploads, no extra objects.
    const names = archive.files.map((f) => f.filename).sort();
    assert.deepEqual(filesUnder(join(nas.path, 'room-a', archive.id)), names);
    assert.deepEqual(filesUnder(join(ftpd.root, 'tls', archive.id)), names);
    assert.deepEqual(filesUnder(join(sshd.root, 'room-a', archive.id)), names);
    assert.deepEqual(
      await s3Keys(swift, 'spool', 'recordings/'),
      names.map((n) => `recordings/${expected.S3!(n)}`).sort(),
    );
    assert.deepEqual(await s3OpenUploads(swift, 'spool'), []);
    assert.deepEqual(await blobNames(azurite, 'spool'), names.map((n) => `rec/${expected.Azure!(n)}`).sort());

    // The "file delivered" notifications name the target, where the file landed and the archive.
    assert.equal(succeeded.length, deliveries.length);
    const s3Event = succeeded.find((e) => e.targetName === 'S3' && e.file === 'stream-1.webm')!;
    assert.equal(s3Event.archiveId, archive.id);
    assert.equal(s3Event.targetKind, 's3');
    assert.equal(s3Event.remotePath, `room-a/${archive.id}/stream-1.webm`);
    assert.equal(s3Event.url, `${swift.endpoint}/spool/recordings/room-a/${archive.id}/stream-1.webm`);
    const azureEvent = succeeded.find((e) => e.targetName === 'Azure')!;
    assert.ok(!azureEvent.url.includes('sig='), 'no SAS signature in the URL');
    const s3Delivery = deliveries.find((d) => d.targetName === 'S3' && d.file === 'stream-1.webm')!;
    assert.deepEqual(s3Delivery.parts, { total: 3, stored: 3, sent: 3 });
  });

  it('the test action writes, reads back and deletes a probe on every kind of target', async () => {
    const configs = [
      { kind: 'local' as const, name: 'NAS', path: nas.path },
      ftp(),
      ftp({ name: 'FTPS', secure: true, certificateFingerprint: ftpd.certificateFingerprint }),
      sftp(),
      s3({ prefix: 'probe' }),
      azure(),
    ];
    for (const config of configs) {
      const target = h.delivery.createTarget(config);
      const result = await h.delivery.testTarget(target.id);
      assert.equal(result.ok, true, `${config.name}: ${JSON.stringify(result)}`);
      assert.deepEqual(
        result.steps.map((s) => s.stage),
        ['connect', 'write', 'read', 'delete'],
      );
    }
    // The probe was deleted everywhere.
    assert.deepEqual(filesUnder(nas.path), []);
    assert.deepEqual(await s3Keys(swift, 'spool', 'probe'), []);
    // Fingerprints to pin are reported.
    const sftpResult = await h.delivery.testTargetConfig(sftp());
    assert.equal(sftpResult.details?.hostKeyFingerprint, sshd.hostKeyFingerprint);
    const ftpsResult = await h.delivery.testTargetConfig(
      ftp({ secure: true, certificateFingerprint: ftpd.certificateFingerprint }),
    );
    assert.equal(ftpsResult.details?.certificateFingerprint, ftpd.certificateFingerprint);
  });

  it('wrong credentials and a missing bucket are reported exactly by the test action and by the delivery', async () => {
    const cases: Array<{ config: Config; stage: string; reason: string; message: RegExp }> = [
      {
        config: ftp({ name: 'ftp-pw', password: 'not-the-password' }),
        stage: 'authenticate',
        reason: 'auth',
        message: /login refused/,
      },
      {
        config: sftp({ name: 'sftp-pw', password: 'not-the-password' }),
        stage: 'authenticate',
        reason: 'auth',
        message: /wrong password/,
      },
      {
        config: s3({ name: 's3-secret', secretAccessKey: 'not-the-secret' }),
        stage: 'authenticate',
        reason: 'auth',
        message: /credentials refused/,
      },
      {
        config: s3({ name: 's3-bucket', bucket: 'no-such-bucket' }),
        stage: 'connect',
        reason: 'bucket',
        message: /bucket no-such-bucket does not exist/,
      },
      {
        config: azure({
          name: 'azure-key',
          connectionString: azurite.connectionString.replace(
            /AccountKey=[^;]+/,
            `AccountKey=${Buffer.alloc(64, 1).toString('base64')}`,
          ),
        }),
        stage: 'authenticate',
        reason: 'auth',
        message: /credentials refused/,
      },
      {
        config: azure({ name: 'azure-container', container: 'missing' }),
        stage: 'connect',
        reason: 'bucket',
        message: /container missing does not exist/,
      },
      {
        config: sftp({ name: 'sftp-key', hostKeyFingerprint: `SHA256:${'A'.repeat(43)}` }),
        stage: 'connect',
        reason: 'host-key',
        message: /not the pinned/,
      },
      {
        config: ftp({
          name: 'ftps-pin',
          secure: true,
          certificateFingerprint: Array(32).fill('AB').join(':'),
        }),
        stage: 'connect',
        reason: 'tls',
        message: /not the pinned/,
      },
      {
        config: sftp({ name: 'sftp-refused', port: 1 }),
        stage: 'connect',
        reason: 'refused',
        message: /connection refused/,
      },
      {
        config: sftp({ name: 'sftp-perm', path: '/root' }),
        stage: 'write',
        reason: 'permission',
        message: /permission denied/,
      },
    ];
    const byName = new Map<string, (typeof cases)[number]>();
    for (const c of cases) {
      const target = h.delivery.createTarget(c.config);
      byName.set(target.name, c);
      const result = await h.delivery.testTarget(target.id);
      assert.equal(result.ok, false, c.config.name);
      assert.equal(result.error?.stage, c.stage, `${c.config.name}: ${JSON.stringify(result.error)}`);
      assert.equal(result.error?.reason, c.reason, `${c.config.name}: ${JSON.stringify(result.error)}`);
      assert.equal(result.error?.permanent, true);
      assert.match(result.error!.message, c.message, c.config.name);
      assert.equal(result.steps.at(-1)?.ok, false);
    }

    // The same failures stop the delivery at once: reported on the first attempt, retried later.
    const archive = await h.createArchive([{ filename: 'a.webm', size: 1000 }]);
    const failures = new Map<string, DeliveryEventPayloads['delivery.failed']>();
    const allReported = new Promise<void>((resolve) =>
      h.bus.on('event', (e) => {
        if (e.type !== 'delivery.failed' || failures.has(e.data.targetName)) return;
        failures.set(e.data.targetName, e.data);
        if (failures.size === cases.length) resolve();
      }),
    );
    h.available(archive.id);
    await allReported;
    for (const [name, failure] of failures) {
      const c = byName.get(name)!;
      // The permission case fails when writing the file (stage upload), the rest before.
      assert.equal(failure.reason, c.reason, `${name}: ${failure.error}`);
      assert.equal(failure.permanent, true);
      assert.equal(failure.attempts, 1, `${name} reported on the first attempt`);
      assert.notEqual(failure.retryAt, null, `${name} is retried later`);
      assert.match(failure.error, c.message);
    }
    const rows: DeliveryJson[] = h.delivery.list({ archiveId: archive.id });
    assert.ok(rows.every((d) => d.lastError !== null && d.lastError.permanent));
    assert.equal(h.archives.get(archive.id)!.status, 'available');
    assert.ok(!existsSync('/root/a.webm'));
  });
});
