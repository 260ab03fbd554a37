import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import type { DeliveryJson, TargetJson, TargetTestResult } from '../../src/shared/targets';
import { json } from '../helpers/api';
import { DeliveryHarness } from '../helpers/servers/deliveryHarness';
import { freePort } from '../helpers/servers/processes';
import { startSshd, type SshdServer } from '../helpers/servers/sshd';
import { startVsftpd, type VsftpdServer } from '../helpers/servers/vsftpd';
import { startServers } from '../helpers/servers/processes';
import { tempDir } from '../helpers/tmp';

const SECRETS = {
  ftpPassword: 'ftp-Secret-Password-31337',
  s3Secret: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY',
  azureKey: Buffer.from('azure-account-key-that-must-not-leak-0123456789').toString('base64'),
  sas: 'sv=2024-01-01&ss=b&srt=sco&sp=rwdl&se=2030-01-01T00:00:00Z&sig=SASsignatureMustNotLeak123%3D',
  passphrase: 'key-passphrase-never-shown',
};

describe('targets and deliveries API', () => {
  let sshd: SshdServer;
  let ftpd: VsftpdServer;
  let dir: ReturnType<typeof tempDir>;
  let nas: ReturnType<typeof tempDir>;
  let h: DeliveryHarness;
  let token: string;
  const api = <T>(method: string, path: string, body?: unknown) =>
    json<T>(`${h.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}` },
      ...(body !== undefined ? { body } : {}),
    });

  before(async () => {
    [sshd, ftpd] = await startServers([startSshd(), startVsftpd()] as const);
  });
  after(async () => {
    await Promise.all([sshd?.close(), ftpd?.close()]);
  });
  beforeEach(async () => {
    dir = tempDir();
    nas = tempDir('spool-nas-');
    h = await DeliveryHarness.start({
      dataDir: dir.path,
      http: true,
      settings: { deliveryBackoffMaxSec: 3600 },
    });
    token = await h.token();
  });
  afterEach(async () => {
    await h.close();
    dir.remove();
    nas.remove();
  });

  it('creates, lists, changes and deletes targets, validating every field by name', async () => {
    assert.equal((await json(`${h.url}/api/targets`)).status, 401, 'credentials required');
    const created = await api<TargetJson>('POST', '/api/targets', {
      kind: 'local',
      name: 'NAS',
      path: nas.path,
    });
    assert.equal(created.status, 201);
    assert.equal(created.body.pathTemplate, '{room}/{archiveId}/{file}');
    assert.equal(created.body.enabled, true);
    const id = created.body.id;
    assert.deepEqual(
      (await api<{ items: TargetJson[] }>('GET', '/api/targets')).body.items.map((t) => t.id),
      [id],
    );
    const patched = await api<TargetJson>('PATCH', `/api/targets/${id}`, {
      name: 'Archive NAS',
      pathTemplate: '{date}/{file}',
    });
    assert.equal(patched.status, 200);
    assert.equal(patched.body.name, 'Archive NAS');
    assert.equal((patched.body as { path?: string }).path, nas.path);
    const replaced = await api<TargetJson>('PUT', `/api/targets/${id}`, {
      kind: 'local',
      name: 'Other',
      path: '/srv/x',
    });
    assert.equal(replaced.body.pathTemplate, '{room}/{archiveId}/{file}', 'PUT replaces the whole config');

    const cases: Array<[unknown, string, RegExp]> = [
      [{ kind: 'local', name: 'x', path: 'relative/path' }, 'path', /absolute/],
      [{ kind: 'ftp', name: 'x', host: 'h', user: 'u', port: 70000 }, 'port', /65535/],
      [
        { kind: 's3', name: 'x', bucket: 'b!', accessKeyId: 'k', secretAccessKey: 's' },
        'bucket',
        /bucket name/,
      ],
      [{ kind: 's3', name: 'x', bucket: 'bucket', accessKeyId: 'k' }, 'secretAccessKey', /required/],
      [{ kind: 'sftp', name: 'x', host: 'h', user: 'u' }, 'password', /password or a privateKey/],
      [{ kind: 'azure', name: 'x', container: 'c1x', accountName: 'acct' }, 'sasToken', /required/],
      [{ kind: 'local', name: 'x', path: '/x', pathTemplate: '{room}' }, 'pathTemplate', /\{file\}/],
      [{ kind: 'local', name: 'x', path: '/x', color: 'red' }, 'color', /./],
      [{ kind: 'webdav', name: 'x' }, 'kind', /./],
    ];
    for (const [body, field, message] of cases) {
      const answer = await api<{ code: string; field: string; message: string }>(
        'POST',
        '/api/targets',
        body,
      );
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.equal(answer.body.code, 'InvalidArgument');
      assert.equal(answer.body.field, field, `${JSON.stringify(body)} → ${JSON.stringify(answer.body)}`);
      assert.match(answer.body.message, message);
    }
    assert.equal((await api('DELETE', `/api/targets/${id}`)).status, 204);
    assert.equal((await api('GET', `/api/targets/${id}`)).status, 404);
    assert.equal((await api('DELETE', `/api/targets/${id}`)).status, 404);
  });

  it('never returns or logs a credential, and never stores one in the clear', async () => {
    const bodies = [
      {
        kind: 'ftp',
        allowPrivateNetwork: true,
        name: 'FTP',
        host: ftpd.host,
        port: ftpd.port,
        user: ftpd.user.name,
        password: SECRETS.ftpPassword,
      },
      {
        kind: 'sftp',
        allowPrivateNetwork: true,
        name: 'SFTP',
        host: sshd.host,
        port: sshd.port,
        user: sshd.user.name,
        privateKey: sshd.privateKey,
        passphrase: SECRETS.passphrase,
        path: sshd.root,
      },
      {
        kind: 's3',
        allowPrivateNetwork: true,
        name: 'S3',
        endpoint: `http://127.0.0.1:${await freePort()}`,
        forcePathStyle: true,
        bucket: 'bucket',
        accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
        secretAccessKey: SECRETS.s3Secret,
      },
      {
        kind: 'azure',
        allowPrivateNetwork: true,
        name: 'Azure key',
        connectionString: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${SECRETS.azureKey};BlobEndpoint=http://127.0.0.1:${await freePort()}/devstoreaccount1;`,
        container: 'spool',
      },
      {
        kind: 'azure',
        allowPrivateNetwork: true,
        name: 'Azure SAS',
        accountUrl: `http://127.0.0.1:${await freePort()}/devstoreaccount1`,
        sasToken: SECRETS.sas,
        container: 'spool',
      },
    ];
    const answers: unknown[] = [];
    const ids: string[] = [];
    for (const body of bodies) {
      const created = await api<TargetJson>('POST', '/api/targets', body);
      assert.equal(created.status, 201, JSON.stringify(created.body));
      answers.push(created.body);
      ids.push(created.body.id);
      assert.ok(created.body.secrets.length > 0);
      for (const field of created.body.secrets)
        assert.equal((created.body as Record<string, unknown>)[field], '••••');
    }
    // Sending the mask back keeps the stored credential; the test action still logs in.
    const sftpId = ids[1]!;
    const kept = await api<TargetJson>('PATCH', `/api/targets/${sftpId}`, {
      privateKey: '••••',
      passphrase: null,
    });
    assert.deepEqual(kept.body.secrets, ['privateKey']);
    const sftpTest = await api<TargetTestResult>('POST', `/api/targets/${sftpId}/test`);
    assert.equal(sftpTest.body.ok, true, JSON.stringify(sftpTest.body));

    // Failing tests and failing deliveries go through every error path that could leak.
    for (const id of ids) {
      const result = await api<TargetTestResult>('POST', `/api/targets/${id}/test`);
      answers.push(result.body);
    }
    const ftpTest = answers.at(-bodies.length) as TargetTestResult;
    assert.equal(ftpTest.error?.reason, 'auth', 'wrong FTP password');
    const archive = await h.createArchive([{ filename: 'a.webm', size: 1000 }]);
    const failures = new Promise<void>((resolve) => {
      let n = 0;
      h.bus.on('event', (e) => {
        if (e.type === 'delivery.failed' && ++n === 4) resolve();
      });
    });
    h.available(archive.id);
    await failures;
    answers.push((await api('GET', '/api/targets')).body);
    for (const id of ids) answers.push((await api('GET', `/api/targets/${id}`)).body);
    answers.push((await api('GET', `/api/deliveries?archiveId=${archive.id}`)).body);
    answers.push(h.events);

    const everything = JSON.stringify(answers) + h.logLines.join('\n');
    h.store.db.pragma('wal_checkpoint(TRUNCATE)');
    const database = readFileSync(join(dir.path, 'studio.db')).toString('latin1');
    const leaks = [...Object.values(SECRETS), sshd.privateKey.split('\n')[1]!, 'SASsignature'];
    for (const secret of leaks) {
      assert.ok(!everything.includes(secret), `API answers, events or log contain ${secret.slice(0, 12)}…`);
      assert.ok(!database.includes(secret), `the database holds ${secret.slice(0, 12)}… in the clear`);
    }
    assert.ok(
      h.logLines.some((l) => l.includes('target test failed')),
      'the failures were logged',
    );
  });

  it('lists deliveries, retries a failed one after the fix and cancels one', async () => {
    const broken = await api<TargetJson>('POST', '/api/targets', {
      kind: 'local',
      name: 'Broken',
      path: join(nas.path, 'missing'),
    });
    const archive = await h.createArchive([
      { filename: 'a.webm', size: 1000 },
      { filename: 'b.webm', size: 1000 },
    ]);
    const failed = h.nextEvent((e) => e.type === 'delivery.failed');
    h.available(archive.id);
    await failed;
    const list = await api<{ items: DeliveryJson[] }>('GET', `/api/deliveries?archiveId=${archive.id}`);
    assert.equal(list.status, 200);
    assert.equal(list.body.items.length, 2);
    const [first, second] = list.body.items;
    const bad = await api<{ field: string }>('GET', '/api/deliveries?status=lost');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'status');
    assert.equal((await api('POST', '/api/deliveries/nope/retry')).status, 404);

    const canceled = await api<DeliveryJson>('POST', `/api/deliveries/${second!.id}/cancel`);
    assert.equal(canceled.status, 200);
    assert.equal(canceled.body.status, 'canceled');
    await api('PATCH', `/api/targets/${broken.body.id}`, { path: nas.path });
    await h.archiveReaches(archive.id, 'uploaded', 5000);
    assert.equal((await api<DeliveryJson>('GET', `/api/deliveries/${first!.id}`)).body.status, 'succeeded');
    assert.equal(
      (await api('POST', `/api/deliveries/${first!.id}/cancel`)).status,
      409,
      'a delivered file cannot be canceled',
    );

    const retried = await api<DeliveryJson>('POST', `/api/deliveries/${second!.id}/retry`);
    assert.equal(retried.body.status, 'queued');
    await h.nextEvent((e) => e.type === 'delivery.succeeded' && e.data.deliveryId === second!.id);
    const filtered = await api<{ items: DeliveryJson[] }>(
      'GET',
      `/api/deliveries?targetId=${broken.body.id}&status=succeeded`,
    );
    assert.equal(filtered.body.items.length, 2);
  });

  it('tests an unsaved config and reports the failing step', async () => {
    const missing = await api<TargetTestResult>('POST', '/api/targets/test', {
      kind: 'local',
      name: 'x',
      path: join(nas.path, 'nope'),
    });
    assert.equal(missing.status, 200);
    assert.equal(missing.body.ok, false);
    assert.deepEqual(
      missing.body.error && { stage: missing.body.error.stage, reason: missing.body.error.reason },
      {
        stage: 'connect',
        reason: 'not-found',
      },
    );
    const ok = await api<TargetTestResult>('POST', '/api/targets/test', {
      kind: 'local',
      name: 'x',
      path: nas.path,
    });
    assert.equal(ok.body.ok, true);
    const invalid = await api<{ field: string }>('POST', '/api/targets/test', { kind: 'ftp', name: 'x' });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body.field, 'host');
  });
});
