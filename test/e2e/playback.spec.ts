import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { artifactPath, launchChromium, loginOperator } from '../helpers/browser';
import { startHeadless, TEST_CREDENTIALS, type HeadlessCore } from '../helpers/headless';
import { join } from 'node:path';
import { makeClip, SyntheticPublisher } from '../helpers/publisher';
import { ArchiveApi, OperatorClient, waitFor } from '../helpers/studio';
import { tempDir } from '../helpers/tmp';

/** A file server of someone else's storage: everything behind HTTP Basic auth, with Range. */
function protectedServer(
  file: string,
  user: string,
  password: string,
): Promise<{ server: Server; url: string; unauthorized: number[] }> {
  const unauthorized: number[] = [];
  const body = readFileSync(file);
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const server = createServer((req, res) => {
    if (req.headers.authorization !== expected) {
      unauthorized.push(Date.now());
      res.writeHead(401, { 'www-authenticate': 'Basic realm="storage"' }).end();
      return;
    }
    const range = /bytes=(\d+)-(\d*)/.exec(req.headers.range ?? '');
    if (range) {
      const start = Number(range[1]);
      const end = range[2] ? Number(range[2]) : body.length - 1;
      res.writeHead(206, {
        'content-type': 'video/webm',
        'content-range': `bytes ${start}-${end}/${body.length}`,
        'content-length': end - start + 1,
        'accept-ranges': 'bytes',
      });
      res.end(body.subarray(start, end + 1));
      return;
    }
    res
      .writeHead(200, {
        'content-type': 'video/webm',
        'content-length': statSync(file).size,
        'accept-ranges': 'bytes',
      })
      .end(body);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        server,
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/recordings/clip.webm`,
        unauthorized,
      }),
    ),
  );
}

describe('playback of files behind Basic auth', () => {
  let dir: ReturnType<typeof tempDir>;
  let core: HeadlessCore;
  let browser: Browser;
  before(async () => {
    dir = tempDir();
    core = await startHeadless({ dataDir: dir.path });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await core?.stop();
    dir.remove();
  });

  it('plays a remote file whose server answers 401 without credentials, with them', async () => {
    const storage = await protectedServer(makeClip({ durationSec: 10 }), 'viewer', 's3cret-pass');
    try {
      const plain = await fetch(storage.url);
      assert.equal(plain.status, 401);
      const page = await browser.newPage();
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      await loginOperator(page, core.url, TEST_CREDENTIALS.SPOOL_OPERATOR_PASSWORD);
      await page.getByRole('link', { name: 'Archives' }).click();
      await page.getByText('Play a remote file').click();
      const form = page.getByRole('form', { name: 'Remote file' });
      await form.getByLabel('URL').fill(storage.url);
      await form.getByLabel('User').fill('viewer');
      await form.getByLabel('Password').fill('s3cret-pass');
      await form.getByLabel('On this machine or the local network').check();
      await form.getByRole('button', { name: 'Play' }).click();
      const video = page.getByTestId('remote-player').locator('video');
      await video.waitFor();
      const result = await video.evaluate(async (v: HTMLVideoElement) => {
        v.muted = true;
        if (v.readyState < 1) {
          await new Promise<void>((resolve, reject) => {
            v.onloadedmetadata = () => resolve();
            v.onerror = () => reject(new Error(`media error ${v.error?.code}`));
          });
        }
        await v.play();
        // Playback moves on within 10 s even on a loaded machine.
        for (let waited = 0; v.currentTime < 0.6 && waited < 10_000; waited += 100)
          await new Promise((r) => setTimeout(r, 100));
        const played = v.currentTime;
        v.currentTime = 5;
        await new Promise<void>((resolve) => (v.onseeked = () => resolve()));
        return { played, seeked: v.currentTime, duration: v.duration, error: v.error?.code ?? null };
      });
      assert.equal(result.error, null);
      assert.ok(result.played > 0.5, `played ${result.played}`);
      assert.ok(Math.abs(result.seeked - 5) < 0.5);
      assert.ok(result.duration > 9);
      await page.screenshot({ path: artifactPath('remote-playback.png'), fullPage: true });
      // The credentials never appear in a URL the page requested.
      assert.ok(
        requests.every(
          (u) => !u.includes('s3cret-pass') && !u.includes(TEST_CREDENTIALS.SPOOL_FILES_PASSWORD),
        ),
      );
      await page.close();
    } finally {
      storage.server.close();
    }
  });

  it('the player worker adds credentials to media only: a tab opening /files/… gets 401, tracks play, the ZIP downloads through a signed link', async () => {
    const operator = await OperatorClient.login(core);
    const archives = new ArchiveApi(core.url);
    const room = await operator.createRoom({ name: 'Worker' });
    const token = await operator.createToken(room.id, { connectionData: 'Guest' });
    const publisher = await SyntheticPublisher.start({
      whipUrl: token.whipUrl,
      token: token.token,
      clip: makeClip({ durationSec: 10 }),
      loop: true,
    });
    let archiveId: string;
    try {
      await waitFor(
        async () => (await operator.room(room.id)).session?.streams[0]?.codecs.video,
        15_000,
        'the stream',
      );
      const archive = await archives.start({ sessionId: room.id, outputMode: 'individual' });
      archiveId = archive.id;
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await archives.stop(archive.id);
      await archives.waitStatus(archive.id, 'available', 30_000);
    } finally {
      await publisher.stop();
    }
    const page = await browser.newPage();
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    try {
      await loginOperator(page, core.url, TEST_CREDENTIALS.SPOOL_OPERATOR_PASSWORD);
      await page.goto(`${core.url}/#/archives/${archiveId}`);
      // A track plays: its media requests get the file server's credentials from the worker.
      await page.getByText('Each track on its own').click();
      const video = page.getByTestId('track-player').first().locator('video');
      await video.waitFor();
      const played = await video.evaluate(async (v: HTMLVideoElement) => {
        v.muted = true;
        if (v.readyState < 1) {
          await new Promise<void>((resolve, reject) => {
            v.onloadedmetadata = () => resolve();
            v.onerror = () => reject(new Error(`media error ${v.error?.code}`));
          });
        }
        await v.play();
        for (let waited = 0; v.currentTime < 0.3 && waited < 10_000; waited += 100)
          await new Promise((r) => setTimeout(r, 100));
        return { time: v.currentTime, error: v.error?.code ?? null };
      });
      assert.equal(played.error, null);
      assert.ok(played.time > 0.2, `played ${played.time}`);
      const src = await video.getAttribute('src');
      assert.ok(src?.startsWith(`/files/${archiveId}/`), String(src));

      // The manifest loads through a signed link (a fetch() gets no credentials from the worker).
      await page.locator('summary', { hasText: 'manifest.json' }).click();
      await page.locator('details pre', { hasText: '"files"' }).waitFor({ timeout: 10_000 });

      // The ZIP: a signed link minted on the click, downloaded without any credentials.
      const download = page.waitForEvent('download', { timeout: 20_000 });
      await page.getByRole('button', { name: 'Export ZIP' }).click();
      const file = await download;
      assert.match(new URL(file.url()).pathname, new RegExp(`^/links/${archiveId}/archive\\.zip$`));
      const zipPath = join(dir.path, 'download.zip');
      await file.saveAs(zipPath);
      assert.equal(readFileSync(zipPath).subarray(0, 2).toString(), 'PK');
      assert.ok(statSync(zipPath).size > 10_000);

      // A navigation (same tab, worker in control) to a file: no credentials added → 401.
      // (Chromium then fails the navigation itself: ERR_INVALID_AUTH_CREDENTIALS.)
      const navigate = async (url: string) => {
        const answered = page.waitForResponse((r) => r.url() === url, { timeout: 15_000 });
        await page.goto(url).catch(() => {});
        const response = await answered;
        return { status: response.status(), headers: await response.request().allHeaders() };
      };
      for (const url of [`${core.url}${src}`, `${core.url}/files/${archiveId}/archive.zip`]) {
        const { status, headers } = await navigate(url);
        assert.equal(status, 401, url);
        assert.equal(headers.authorization, undefined, url);
      }
      assert.ok(requests.every((u) => !u.includes(TEST_CREDENTIALS.SPOOL_FILES_PASSWORD)));
    } finally {
      await page.close();
    }
  });
});
