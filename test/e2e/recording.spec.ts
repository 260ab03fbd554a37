import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { Manifest } from '../../src/shared/archive';
import { artifactPath, launchChromium } from '../helpers/browser';
import { startHeadless, TEST_CREDENTIALS, type HeadlessCore } from '../helpers/headless';
import { decodeErrors, probe } from '../helpers/probe';
import { OperatorClient, waitFor } from '../helpers/studio';
import { tempDir } from '../helpers/tmp';

describe('recording Chromium guests', () => {
  let dir: ReturnType<typeof tempDir>;
  let core: HeadlessCore;
  let browser: Browser;
  let operator: OperatorClient;
  before(async () => {
    dir = tempDir();
    core = await startHeadless({ dataDir: dir.path });
    browser = await launchChromium();
    operator = await OperatorClient.login(core);
  });
  after(async () => {
    await browser?.close();
    await core?.stop();
    dir.remove();
  });

  async function joinRoom(url: string): Promise<Page> {
    const page = await (await browser.newContext()).newPage();
    await page.goto(url);
    await page.getByRole('button', { name: 'Join' }).click();
    await page.getByRole('button', { name: 'Leave' }).waitFor();
    return page;
  }

  it('a moderator records 10 s of fake camera and microphone; everyone sees the indicator; the file plays and seeks in Chromium', async () => {
    const room = await operator.createRoom({ name: 'Guests on record' });
    const host = await joinRoom(
      (await operator.createToken(room.id, { role: 'moderator', connectionData: 'Host' })).joinUrl,
    );
    const guest = await joinRoom((await operator.createToken(room.id, { connectionData: 'Guest' })).joinUrl);
    await waitFor(
      async () => (await operator.room(room.id)).session?.streams.filter((s) => s.codecs.video).length === 2,
      15_000,
      'two streams',
    );

    await host.getByRole('button', { name: 'Record' }).click();
    await guest.getByTestId('recording-indicator').waitFor();
    await host.getByTestId('recording-indicator').waitFor();
    await guest.screenshot({ path: artifactPath('join-recording.png') });
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    await host.getByRole('button', { name: 'Stop recording' }).click();
    await guest.getByTestId('recording-indicator').waitFor({ state: 'detached' });

    const archives = await operator.ok<{ items: Array<{ id: string; status: string; reason: string }> }>(
      'GET',
      `/v2/project/${TEST_CREDENTIALS.SPOOL_API_KEY}/archive?sessionId=${room.id}`,
    );
    assert.equal(archives.items.length, 1);
    const archiveId = archives.items[0]!.id;
    await waitFor(
      async () => {
        const a = await operator.ok<{ status: string }>(
          'GET',
          `/v2/project/${TEST_CREDENTIALS.SPOOL_API_KEY}/archive/${archiveId}`,
        );
        return a.status === 'available' || a.status === 'stopped';
      },
      5000,
      'the archive to stop',
    );
    const manifest = JSON.parse(
      readFileSync(join(dir.path, 'archives', archiveId, 'manifest.json'), 'utf8'),
    ) as Manifest;
    assert.deepEqual(manifest.files.map((f) => f.connectionData).sort(), ['Guest', 'Host']);
    for (const file of manifest.files) {
      const path = join(dir.path, 'archives', archiveId, file.filename);
      const info = await probe(path);
      assert.deepEqual(info.streams.map((s) => s.codec_name).sort(), ['opus', 'vp8']);
      assert.ok(info.duration > 9 && info.duration < 11.5, `duration ${info.duration}`);
      assert.equal(await decodeErrors(path), '');
    }

    // Play and seek the first file in Chromium, which supplies the file-server credentials.
    const context = await browser.newContext({
      httpCredentials: {
        username: TEST_CREDENTIALS.SPOOL_FILES_USER,
        password: TEST_CREDENTIALS.SPOOL_FILES_PASSWORD,
      },
    });
    const player = await context.newPage();
    await player.goto(`${core.url}/health`);
    const src = `/files/${archiveId}/${manifest.files[0]!.filename}`;
    const result = await player.evaluate(async (url) => {
      const video = document.createElement('video');
      video.muted = true;
      video.src = url;
      document.body.append(video);
      await new Promise<void>((resolve, reject) => {
        video.onloadedmetadata = () => resolve();
        video.onerror = () => reject(new Error(`media error ${video.error?.code}`));
      });
      await video.play();
      const t0 = video.currentTime;
      await new Promise((r) => setTimeout(r, 1500));
      const advanced = video.currentTime - t0;
      video.currentTime = 6;
      await new Promise<void>((resolve) => (video.onseeked = () => resolve()));
      const seekedTo = video.currentTime;
      await new Promise((r) => setTimeout(r, 1000));
      return {
        duration: video.duration,
        advanced,
        seekedTo,
        after: video.currentTime,
        error: video.error?.code ?? null,
      };
    }, src);
    assert.equal(result.error, null);
    assert.ok(result.duration > 9 && result.duration < 11.5, `duration in Chromium ${result.duration}`);
    assert.ok(result.advanced > 0.5, `playback advanced ${result.advanced}`);
    assert.ok(Math.abs(result.seekedTo - 6) < 0.5, `seeked to ${result.seekedTo}`);
    assert.ok(result.after > result.seekedTo, 'plays on after the seek');
    await context.close();
    await host.context().close();
    await guest.context().close();
  });

  // One guest each, side by side (as many encoders as the first test's two guests).
  describe('H264 and VP9', { concurrency: 2 }, () => {
    for (const codec of ['H264', 'VP9'] as const) {
      it(`records a Chromium guest publishing ${codec} without transcoding`, async () => {
        const room = await operator.createRoom({ name: `${codec} room`, preferredVideoCodec: codec });
        const guest = await joinRoom(
          (await operator.createToken(room.id, { connectionData: codec })).joinUrl,
        );
        const stream = await waitFor(
          async () => (await operator.room(room.id)).session?.streams.find((s) => s.codecs.video),
          15_000,
          'the stream',
        );
        assert.equal(stream.codecs.video, codec);
        const base = `/v2/project/${TEST_CREDENTIALS.SPOOL_API_KEY}/archive`;
        const archive = await operator.ok<{ id: string }>('POST', base, {
          sessionId: room.id,
          outputMode: 'individual',
          format: 'mp4',
        });
        await new Promise((resolve) => setTimeout(resolve, 5000));
        await operator.ok('POST', `${base}/${archive.id}/stop`);
        const manifest = JSON.parse(
          readFileSync(join(dir.path, 'archives', archive.id, 'manifest.json'), 'utf8'),
        ) as Manifest;
        const file = manifest.files[0]!;
        // Both copy into MP4 (VP8 is the codec that cannot).
        assert.match(file.filename, /\.mp4$/);
        const path = join(dir.path, 'archives', archive.id, file.filename);
        const info = await probe(path);
        assert.deepEqual(
          info.streams.map((s) => s.codec_name).sort(),
          ['opus', codec === 'H264' ? 'h264' : 'vp9'].sort(),
        );
        assert.ok(info.duration > 4 && info.duration < 6.5, `duration ${info.duration}`);
        assert.equal(await decodeErrors(path), '');
        await guest.context().close();
      });
    }
  });
});
