import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { artifactPath, launchChromium, loginOperator } from '../helpers/browser';
import { startHeadless, TEST_CREDENTIALS, type HeadlessCore } from '../helpers/headless';
import { makeClip } from '../helpers/publisher';
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
        await new Promise((r) => setTimeout(r, 1200));
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
});
