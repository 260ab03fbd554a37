import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import type { StudioInfo } from '../../src/shared/api';
import { startHeadless, type HeadlessCore } from '../helpers/headless';
import { OperatorClient } from '../helpers/studio';
import { tempDir } from '../helpers/tmp';

/** GET over HTTPS, accepting the self-signed certificate, returning it too. */
function httpsGet(url: string): Promise<{ status: number; body: string; cert: X509Certificate }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { rejectUnauthorized: false, agent: false }, (res) => {
      const cert = (res.socket as TLSSocket).getPeerX509Certificate()!;
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, cert }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('guests on the LAN', () => {
  let dir: ReturnType<typeof tempDir>;
  let core: HeadlessCore;
  before(async () => {
    dir = tempDir();
    core = await startHeadless({
      dataDir: dir.path,
      env: { SPOOL_LAN_ADDRESS: '127.0.0.1', SPOOL_HTTPS_PORT: '0' },
    });
  });
  after(async () => {
    await core?.stop();
    dir.remove();
  });

  it('serves the join page over HTTPS with a self-signed certificate whose fingerprint the studio shows', async () => {
    const operator = await OperatorClient.login(core);
    const info = await operator.ok<StudioInfo>('GET', '/api/studio');
    assert.match(info.lanUrl ?? '', /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.match(info.certificateFingerprint ?? '', /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const room = await operator.createRoom();
    const token = await operator.createToken(room.id);
    assert.ok(token.lanJoinUrl?.startsWith(`${info.lanUrl}/join/${room.id}?t=`));
    assert.ok(token.joinUrl.startsWith(info.lanUrl!), 'join links point guests at the LAN address');
    const page = await httpsGet(token.lanJoinUrl!);
    assert.equal(page.status, 200);
    assert.match(page.body, /<base href="\/"/);
    assert.equal(page.cert.fingerprint256, info.certificateFingerprint);
    assert.ok(page.cert.checkIP('127.0.0.1'));
    const health = await httpsGet(`${info.lanUrl}/health`);
    assert.equal(health.status, 200);
  });

  it('keeps the certificate across restarts', async () => {
    const before = (await (await OperatorClient.login(core)).ok<StudioInfo>('GET', '/api/studio'))
      .certificateFingerprint;
    await core.stop();
    core = await startHeadless({
      dataDir: dir.path,
      env: { SPOOL_LAN_ADDRESS: '127.0.0.1', SPOOL_HTTPS_PORT: '0' },
    });
    const after = (await (await OperatorClient.login(core)).ok<StudioInfo>('GET', '/api/studio'))
      .certificateFingerprint;
    assert.equal(after, before);
  });
});
