import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { artifactPath, launchChromium, loginOperator } from '../helpers/browser';
import { startHeadless, TEST_CREDENTIALS, type HeadlessCore } from '../helpers/headless';
import { OperatorClient, waitFor } from '../helpers/studio';
import { tempDir } from '../helpers/tmp';

/** Plays a <video> a little, seeks it, and reports what happened. */
async function playAndSeek(page: Page, selector: string, to: number) {
  return page
    .locator(selector)
    .first()
    .evaluate(async (v: HTMLVideoElement, target: number) => {
      v.muted = true;
      if (v.readyState < 1) {
        await new Promise<void>((resolve, reject) => {
          v.onloadedmetadata = () => resolve();
          v.onerror = () => reject(new Error(`media error ${v.error?.code}`));
        });
      }
      await v.play();
      const t0 = v.currentTime;
      await new Promise((r) => setTimeout(r, 1200));
      const advanced = v.currentTime - t0;
      v.currentTime = target;
      await new Promise<void>((resolve) => (v.onseeked = () => resolve()));
      return { advanced, seeked: v.currentTime, duration: v.duration, error: v.error?.code ?? null };
    }, to);
}

describe("an operator's day", () => {
  let dir: ReturnType<typeof tempDir>;
  let delivered: ReturnType<typeof tempDir>;
  let core: HeadlessCore;
  let browser: Browser;
  before(async () => {
    dir = tempDir();
    delivered = tempDir('spool-nas-');
    core = await startHeadless({ dataDir: dir.path, env: { SPOOL_SESSION_GRACE_SEC: '2' } });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await core?.stop();
    dir.remove();
    delivered.remove();
  });

  it('creates a room, a guest joins, records, composes, plays and delivers', async () => {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    page.on('pageerror', (error) => console.error('operator page error:', error.message));
    await loginOperator(page, core.url, TEST_CREDENTIALS.SPOOL_OPERATOR_PASSWORD);

    // A local folder target, tested from the settings.
    await page.getByRole('link', { name: 'Settings' }).click();
    const targetForm = page.getByRole('form', { name: 'New target' });
    await targetForm.getByLabel('Target name').fill('NAS');
    await targetForm.getByLabel('Folder').fill(delivered.path);
    await targetForm.getByRole('button', { name: 'Add and test' }).click();
    await page.getByTestId('target-test-result').filter({ hasText: 'Test passed' }).waitFor();
    await page.screenshot({ path: artifactPath('screen-settings.png'), fullPage: true });

    // A room and a join link.
    await page.getByRole('link', { name: 'Rooms' }).click();
    await page.getByLabel('Room name').fill('Morning show');
    await page.getByRole('button', { name: 'Create room' }).click();
    await page.getByRole('heading', { name: 'Morning show' }).waitFor();
    const linkForm = page.getByRole('form', { name: 'Join link' });
    await linkForm.getByLabel('Name shown').fill('Guest One');
    await linkForm.getByRole('button', { name: 'Create link' }).click();
    const joinUrl = (await page.getByTestId('join-url').textContent())!;
    assert.match(joinUrl, /\/join\/[0-9a-f-]{36}\?t=/);

    // The guest joins from another browser context (fake camera and microphone).
    const guest = await (await browser.newContext()).newPage();
    await guest.goto(joinUrl);
    await guest.getByRole('button', { name: 'Join' }).click();
    await guest.getByRole('button', { name: 'Leave' }).waitFor();

    // The operator's room page shows the guest's live video.
    const tile = page.getByTestId('live-tile').first();
    await tile.waitFor({ timeout: 20_000 });
    await waitFor(
      () => tile.locator('video').evaluate((v: HTMLVideoElement) => v.videoWidth > 0 && v.currentTime > 0),
      20_000,
      'live video in the tile',
    );
    assert.match((await tile.textContent()) ?? '', /Guest One/);
    await page.screenshot({ path: artifactPath('screen-room-live.png'), fullPage: true });

    // Record 6 seconds.
    await page.getByRole('button', { name: 'Start recording' }).click();
    await page.getByTestId('room-recording').waitFor();
    await guest.getByTestId('recording-indicator').waitFor();
    await new Promise((resolve) => setTimeout(resolve, 6000));
    await page.getByRole('button', { name: 'Stop recording' }).click();
    await page.getByTestId('room-recording').waitFor({ state: 'detached' });

    // The archive becomes available, then uploaded to the folder.
    await page.getByRole('link', { name: 'Archives' }).click();
    const row = page.getByTestId('archive-row').first();
    await row.waitFor();
    await page.screenshot({ path: artifactPath('screen-archives.png'), fullPage: true });
    await row.getByRole('link').click();
    await page
      .getByText(/available|uploaded/)
      .first()
      .waitFor();
    const deliveryRow = page.getByTestId('delivery-row').first();
    await deliveryRow.waitFor({ timeout: 15_000 });
    await page.locator('.badge-uploaded').first().waitFor({ timeout: 30_000 });

    // Compose with a layout: progress, then completed.
    const compose = page.getByRole('form', { name: 'Compose' });
    await compose.getByRole('button', { name: 'Compose' }).click();
    const compositionRow = page.getByTestId('composition-row').first();
    await compositionRow.waitFor();
    await waitFor(
      async () =>
        (await compositionRow.locator('progress').count()) > 0 ||
        /completed/.test((await compositionRow.textContent()) ?? ''),
      30_000,
      'composition progress',
    );
    await compositionRow.filter({ hasText: 'completed' }).waitFor({ timeout: 90_000 });
    await page.screenshot({ path: artifactPath('screen-archive.png'), fullPage: true });

    // The composed file plays and seeks.
    const composed = page.getByTestId('composed-player').locator('video');
    await composed.first().waitFor({ timeout: 15_000 });
    const played = await playAndSeek(page, '[data-testid="composed-player"] video', 3);
    assert.equal(played.error, null);
    assert.ok(played.advanced > 0.3, `composed playback advanced ${played.advanced}`);
    assert.ok(Math.abs(played.seeked - 3) < 0.5, `seeked to ${played.seeked}`);

    // Every file reached the folder target.
    const operator = await OperatorClient.login(core);
    const archives = await operator.ok<{ items: Array<{ id: string; status: string }> }>(
      'GET',
      `/v2/project/${TEST_CREDENTIALS.SPOOL_API_KEY}/archive`,
    );
    const archive = archives.items[0]!;
    await waitFor(
      async () => {
        const a = await operator.ok<{ status: string }>(
          'GET',
          `/v2/project/${TEST_CREDENTIALS.SPOOL_API_KEY}/archive/${archive.id}`,
        );
        return a.status === 'uploaded';
      },
      30_000,
      'the archive to be uploaded',
    );
    const roomFolders = readdirSync(delivered.path);
    assert.equal(roomFolders.length, 1);
    assert.ok(existsSync(join(delivered.path, roomFolders[0]!, archive.id, 'manifest.json')));

    await page.getByRole('link', { name: 'Layouts' }).click();
    await page.getByTestId('layout-canvas').waitFor();
    await page.screenshot({ path: artifactPath('screen-layouts.png'), fullPage: true });
    await page.getByRole('link', { name: 'Status' }).click();
    await page.getByTestId('ffmpeg').waitFor();
    await page.screenshot({ path: artifactPath('screen-status.png'), fullPage: true });
    await guest.context().close();
    await page.context().close();
  });
});
