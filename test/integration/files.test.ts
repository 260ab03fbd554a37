import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ArchiveJson, Manifest } from '../../src/shared/archive';
import { projectJwt } from '../helpers/api';
import { startHeadless, TEST_CREDENTIALS, type HeadlessCore } from '../helpers/headless';
import { makeClip, SyntheticPublisher } from '../helpers/publisher';
import { OperatorClient, waitFor } from '../helpers/studio';
import { tempDir } from '../helpers/tmp';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const GOOD = basic(TEST_CREDENTIALS.SPOOL_FILES_USER, TEST_CREDENTIALS.SPOOL_FILES_PASSWORD);

/** A GET with the path sent as is (fetch would normalize `..` away). */
function rawGet(
  base: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: Buffer }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('protected file server', () => {
  let dir: ReturnType<typeof tempDir>;
  let core: HeadlessCore;
  let archive: ArchiveJson;
  let manifest: Manifest;
  before(async () => {
    dir = tempDir();
    core = await startHeadless({ dataDir: dir.path });
    const operator = await OperatorClient.login(core);
    const room = await operator.createRoom();
    const token = await operator.createToken(room.id, { connectionData: 'Files' });
    const publisher = await SyntheticPublisher.start({
      whipUrl: token.whipUrl,
      token: token.token,
      clip: makeClip({ durationSec: 30 }),
      loop: true,
    });
    await waitFor(
      async () => (await operator.room(room.id)).session?.streams[0]?.codecs.video,
      10_000,
      'the stream',
    );
    const api = `${core.url}/v2/project/${TEST_CREDENTIALS.SPOOL_API_KEY}/archive`;
    const headers = { 'x-opentok-auth': await projectJwt(), 'content-type': 'application/json' };
    archive = (await (
      await fetch(api, {
        method: 'POST',
        headers,
        body: JSON.stringify({ sessionId: room.id, outputMode: 'individual' }),
      })
    ).json()) as ArchiveJson;
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await fetch(`${api}/${archive.id}/stop`, { method: 'POST', headers, body: '{}' });
    await publisher.stop();
    archive = (await (await fetch(`${api}/${archive.id}`, { headers })).json()) as ArchiveJson;
    manifest = JSON.parse(
      readFileSync(join(dir.path, 'archives', archive.id, 'manifest.json'), 'utf8'),
    ) as Manifest;
  });
  after(async () => {
    await core?.stop();
    dir.remove();
  });

  it('answers 401 with a Basic challenge without or with wrong credentials', async () => {
    const url = `${core.url}/files/${archive.id}/manifest.json`;
    for (const authorization of [
      undefined,
      basic('files', 'wrong'),
      basic('other', TEST_CREDENTIALS.SPOOL_FILES_PASSWORD),
      'Bearer x',
      'Basic !!!',
    ]) {
      const response = await fetch(url, { headers: authorization ? { authorization } : {} });
      assert.equal(response.status, 401, String(authorization));
      assert.match(response.headers.get('www-authenticate') ?? '', /^Basic realm=/);
      assert.equal(((await response.json()) as { code: string }).code, 'Unauthenticated');
    }
  });

  it('serves archive files with the right content types', async () => {
    const json = await fetch(`${core.url}/files/${archive.id}/manifest.json`, {
      headers: { authorization: GOOD },
    });
    assert.equal(json.status, 200);
    assert.match(json.headers.get('content-type') ?? '', /application\/json/);
    const media = manifest.files[0]!;
    const webm = await fetch(`${core.url}/files/${archive.id}/${media.filename}`, {
      headers: { authorization: GOOD },
    });
    assert.equal(webm.status, 200);
    assert.equal(webm.headers.get('content-type'), 'video/webm');
    const bytes = Buffer.from(await webm.arrayBuffer());
    assert.equal(bytes.length, media.size);
    // REST answers point at a signed link to the same ZIP.
    assert.match(archive.url ?? '', new RegExp(`^${core.url}/links/${archive.id}/archive\\.zip\\?expires=`));
  });

  it('answers a Range request with 206 and exactly those bytes', async () => {
    const media = manifest.files[0]!;
    const whole = readFileSync(join(dir.path, 'archives', archive.id, media.filename));
    const response = await fetch(`${core.url}/files/${archive.id}/${media.filename}`, {
      headers: { authorization: GOOD, range: 'bytes=100-1099' },
    });
    assert.equal(response.status, 206);
    assert.equal(response.headers.get('content-range'), `bytes 100-1099/${whole.length}`);
    assert.deepEqual(Buffer.from(await response.arrayBuffer()), whole.subarray(100, 1100));
    const tail = await fetch(`${core.url}/files/${archive.id}/${media.filename}`, {
      headers: { authorization: GOOD, range: 'bytes=-10' },
    });
    assert.deepEqual(Buffer.from(await tail.arrayBuffer()), whole.subarray(whole.length - 10));
  });

  it('never leaves the archive folder: ../ and other tricks are 404', async () => {
    writeFileSync(join(dir.path, 'secret.txt'), 'secret');
    const paths = [
      `/files/${archive.id}/../../settings.json`,
      `/files/${archive.id}/..%2f..%2fsettings.json`,
      `/files/${archive.id}/%2e%2e/%2e%2e/secret.txt`,
      `/files/../settings.json`,
      `/files/${archive.id}/%00manifest.json`,
      `/files/not-an-archive/manifest.json`,
      `/files/${archive.id}/nope.webm`,
    ];
    for (const path of paths) {
      const response = await rawGet(core.url, path, { authorization: GOOD });
      assert.equal(response.status, 404, path);
      assert.doesNotMatch(response.body.toString(), /apiSecret|secret$/);
    }
  });

  it('mints a signed link on demand that needs no credentials; an unknown file is 404 naming it', async () => {
    const operator = await OperatorClient.login(core);
    const link = await operator.ok<{ url: string; path: string; expiresAt: number }>(
      'POST',
      `/api/archives/${archive.id}/links`,
      { file: 'archive.zip' },
    );
    assert.equal(link.url, `${core.url}${link.path}`);
    assert.match(link.path, new RegExp(`^/links/${archive.id}/archive\\.zip\\?expires=\\d+&signature=`));
    assert.ok(link.expiresAt > Date.now());
    const zip = await fetch(`${core.url}${link.path}`);
    assert.equal(zip.status, 200);
    assert.equal(zip.headers.get('content-type'), 'application/zip');
    await zip.arrayBuffer();
    const manifestLink = await operator.ok<{ path: string }>('POST', `/api/archives/${archive.id}/links`, {
      file: 'manifest.json',
    });
    assert.equal((await fetch(`${core.url}${manifestLink.path}`)).status, 200);
    const unknown = await operator.request<{ code: string; field: string }>(
      'POST',
      `/api/archives/${archive.id}/links`,
      { file: '../settings.json' },
    );
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.field, 'file');
    const wrongType = await operator.request<{ field: string }>('POST', `/api/archives/${archive.id}/links`, {
      file: 5,
    });
    assert.equal(wrongType.status, 400);
    assert.equal(wrongType.body.field, 'file');
  });

  it('streams archive.zip with the manifest and the media at its root', async () => {
    const response = await fetch(`${core.url}/files/${archive.id}/archive.zip`, {
      headers: { authorization: GOOD },
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/zip');
    const zipPath = join(dir.path, 'archive.zip');
    writeFileSync(zipPath, Buffer.from(await response.arrayBuffer()));
    const listing = execFileSync('python3', [
      '-c',
      'import sys,zipfile; [print(i.filename, i.file_size) for i in zipfile.ZipFile(sys.argv[1]).infolist()]',
      zipPath,
    ])
      .toString()
      .trim()
      .split('\n');
    const names = listing.map((l) => l.split(' ')[0]);
    assert.deepEqual(
      names.sort(),
      ['manifest.json', manifest.files[0]!.filename, manifest.files[0]!.metadataFilename].sort(),
    );
    const extracted = execFileSync('python3', [
      '-c',
      'import sys,zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))',
      zipPath,
      manifest.files[0]!.filename,
    ]);
    const original = readFileSync(join(dir.path, 'archives', archive.id, manifest.files[0]!.filename));
    assert.equal(
      createHash('sha256').update(extracted).digest('hex'),
      createHash('sha256').update(original).digest('hex'),
    );
  });
});
