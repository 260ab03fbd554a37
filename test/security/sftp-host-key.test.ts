import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SftpTargetConfig } from '../../src/shared/targets';
import { SftpDestination } from '../../src/main/delivery/destinations/SftpDestination';
import { DeliveryHarness } from '../helpers/servers/deliveryHarness';
import { startSshd, type SshdServer } from '../helpers/servers/sshd';
import { tempDir } from '../helpers/tmp';

describe('SFTP host keys: trusted on first use, a changed key refused', () => {
  let sshd: SshdServer;
  let dir: ReturnType<typeof tempDir>;
  let h: DeliveryHarness;

  before(async () => {
    sshd = await startSshd();
    dir = tempDir();
    h = await DeliveryHarness.start({ dataDir: dir.path });
  });
  after(async () => {
    await h?.close();
    await sshd?.close();
    dir?.remove();
  });

  const pinOf = (id: string) => (h.delivery.targets.record(id).config as SftpTargetConfig).hostKeyFingerprint;

  it('stores the key at the first login, then refuses another key on the same port for tests and deliveries until the operator clears it', async () => {
    const target = h.delivery.createTarget({
      kind: 'sftp',
      name: 'SFTP',
      allowPrivateNetwork: true,
      host: sshd.host,
      port: sshd.port,
      user: sshd.user.name,
      password: sshd.user.password,
      path: sshd.root,
    });
    assert.equal(pinOf(target.id), undefined);
    const first = await h.delivery.testTarget(target.id);
    assert.equal(first.ok, true, JSON.stringify(first.error));
    const trusted = sshd.hostKeyFingerprint;
    assert.equal(pinOf(target.id), trusted);
    assert.equal(
      (h.delivery.getTarget(target.id) as { hostKeyFingerprint?: string }).hostKeyFingerprint,
      trusted,
    );

    // Another server (a new host key) on the same port.
    await sshd.rotateHostKey();
    assert.notEqual(sshd.hostKeyFingerprint, trusted);
    const refused = await h.delivery.testTarget(target.id);
    assert.equal(refused.ok, false);
    assert.equal(refused.error?.reason, 'host-key');
    assert.ok(refused.error?.message.includes(trusted), refused.error?.message);
    assert.ok(refused.error?.message.includes(sshd.hostKeyFingerprint), refused.error?.message);
    assert.equal(pinOf(target.id), trusted, 'a refused key is never stored');

    // A delivery is refused the same way, at once (the operator must act), and nothing lands.
    const archive = await h.createArchive([{ filename: 'cam.webm', size: 4096 }]);
    const failed = h.nextEvent((e) => e.type === 'delivery.failed' && e.archiveId === archive.id, 30_000);
    h.available(archive.id);
    const event = (await failed) as { data: { reason: string; permanent: boolean; error: string } };
    assert.equal(event.data.reason, 'host-key');
    assert.equal(event.data.permanent, true);
    assert.match(event.data.error, /has changed/);
    assert.equal(pinOf(target.id), trusted);

    // The documented reset: clear the pin; the next login trusts the new key.
    h.delivery.updateTarget(target.id, { hostKeyFingerprint: null });
    assert.equal(pinOf(target.id), undefined);
    const again = await h.delivery.testTarget(target.id);
    assert.equal(again.ok, true, JSON.stringify(again.error));
    assert.equal(pinOf(target.id), sshd.hostKeyFingerprint);
  });

  it('refuses the login when another connection trusted a different key for the server first', async () => {
    const offered: string[] = [];
    const other = `SHA256:${'B'.repeat(43)}`;
    const destination = new SftpDestination(
      {
        kind: 'sftp',
        name: 'Race',
        enabled: true,
        pathTemplate: '{file}',
        allowPrivateNetwork: true,
        host: sshd.host,
        port: sshd.port,
        user: sshd.user.name,
        password: sshd.user.password,
        path: sshd.root,
      },
      h.logger,
      {
        trustHostKey: (fingerprint) => {
          offered.push(fingerprint);
          return other;
        },
      },
    );
    try {
      await assert.rejects(
        () => destination.connect(),
        (error: Error & { reason?: string }) =>
          error.reason === 'host-key' && error.message.includes(other) && error.message.includes(offered[0]!),
      );
      assert.deepEqual(offered, [sshd.hostKeyFingerprint]);
    } finally {
      await destination.close();
    }
  });

  it('drops the stored key when the host or port changes, keeps it otherwise, and a test with other settings stores nothing', async () => {
    const target = h.delivery.createTarget({
      kind: 'sftp',
      name: 'Pinned',
      allowPrivateNetwork: true,
      host: sshd.host,
      port: sshd.port,
      user: sshd.user.name,
      password: sshd.user.password,
      path: sshd.root,
      hostKeyFingerprint: sshd.hostKeyFingerprint,
    });
    h.delivery.updateTarget(target.id, { name: 'Renamed' });
    assert.equal(pinOf(target.id), sshd.hostKeyFingerprint);
    // A test against another port does not unpin (nor pin) the stored target.
    const other = await h.delivery.testTarget(target.id, { port: 1, password: sshd.user.password });
    assert.equal(other.ok, false);
    assert.equal(pinOf(target.id), sshd.hostKeyFingerprint);
    h.delivery.updateTarget(target.id, { port: sshd.port + 1, password: sshd.user.password });
    assert.equal(pinOf(target.id), undefined);
  });
});
