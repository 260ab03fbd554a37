import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { artifactPath, launchChromium, loginOperator } from '../helpers/browser';
import { startHeadless, TEST_CREDENTIALS, type HeadlessCore } from '../helpers/headless';
import { tempDir } from '../helpers/tmp';

describe('operator UI: login and status', () => {
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

  it('refuses a wrong password and shows why', async () => {
    const page = await browser.newPage();
    await page.goto(core.url);
    await page.getByLabel('Operator password').fill('not-the-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').filter({ hasText: 'wrong operator password' }).waitFor();
    await page.close();
  });

  it('logs in and shows the real ffmpeg version, the disk and the API key, live', async () => {
    const ffmpegVersion = /version\s+(\S+)/.exec(
      execFileSync('ffmpeg', ['-hide_banner', '-version']).toString(),
    )![1]!;
    const page = await browser.newPage();
    await loginOperator(page, core.url, TEST_CREDENTIALS.SPOOL_OPERATOR_PASSWORD);
    await page.getByRole('link', { name: 'Status' }).click();
    await page
      .getByTestId('ffmpeg')
      .filter({ hasText: `ffmpeg ${ffmpegVersion}` })
      .waitFor();
    assert.equal(await page.getByTestId('api-key').textContent(), TEST_CREDENTIALS.SPOOL_API_KEY);
    assert.match((await page.getByTestId('disk').textContent()) ?? '', /free of/);
    await page.getByTestId('socket-state').filter({ hasText: 'connected' }).waitFor();
    await page.screenshot({ path: artifactPath('status.png'), fullPage: true });
    await page.close();
  });
});
