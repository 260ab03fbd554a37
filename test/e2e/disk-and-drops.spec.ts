import assert from 'node:assert/strict';
import { readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { describeViolations, seriousA11yViolations } from '../helpers/axe';
import { artifactPath, launchChromium, loginOperator } from '../helpers/browser';
import { startHeadless, TEST_CREDENTIALS, type HeadlessCore } from '../helpers/headless';
import { makeClip, type SyntheticPublisher } from '../helpers/publisher';
import { manifestOf, startPublisher } from '../helpers/recordingChecks';
import { ArchiveApi, OperatorClient, waitFor } from '../helpers/studio';
import { tempDir } from '../helpers/tmp';
import { mountTmpfs } from '../helpers/tmpfs';

const MB = 1024 * 1024;

/** Writes a ballast file on the disk of `dir` so that about `leftBytes` stay free. */
function fillUntil(dir: string, leftBytes: number): void {
  const stats = statfsSync(dir);
  const free = stats.bavail * stats.bsize;
  if (free > leftBytes) writeFileSync(join(dir, `ballast-${Date.now()}.bin`), Buffer.alloc(free - leftBytes));
}

/** Serious or critical axe findings on the page in light and dark, with a screenshot of each. */
async function a11yFailures(page: Page, name: string): Promise<string[]> {
  const failures: string[] = [];
  for (const theme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: theme });
    await page.screenshot({ path: artifactPath(`${name}-${theme}.png`), fullPage: true });
    const violations = await seriousA11yViolations(page);
    if (violations.length > 0) failures.push(`${name} (${theme}):\n  ${describeViolations(violations)}`);
  }
  return failures;
}

describe("operator UI: the data disk's level and dropped frames", () => {
  let browser: Browser;
  before(async () => {
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
  });

  it(
    'a banner warns while the disk is low and alerts once it is full, live on whatever screen is open, in both themes',
    { timeout: 120_000 },
    async (t) => {
      const disk = mountTmpfs(48);
      if ('skip' in disk) {
        t.skip(disk.skip);
        return;
      }
      let core: HeadlessCore | null = null;
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      try {
        core = await startHeadless({
          dataDir: join(disk.path, 'data'),
          env: {
            SPOOL_DISK_WARN_BYTES: String(24 * MB),
            SPOOL_DISK_FLOOR_BYTES: String(8 * MB),
            SPOOL_DISK_RESERVE_BYTES: String(MB),
            SPOOL_DISK_CHECK_INTERVAL_MS: '200',
          },
        });
        const page = await context.newPage();
        await loginOperator(page, core.url, TEST_CREDENTIALS.SPOOL_OPERATOR_PASSWORD);
        await page.getByText('No rooms yet').waitFor();
        // Plenty of room: the live region is there and empty, no alert.
        assert.equal((await page.getByTestId('disk-warning').textContent())?.trim(), '');
        assert.equal(await page.getByRole('alert').count(), 0);

        // Below the warning threshold: a polite warning appears without a reload.
        fillUntil(disk.path, 16 * MB);
        const warning = page.getByRole('status').filter({ hasText: 'Disk space is low' });
        await warning.waitFor({ timeout: 15_000 });
        assert.match(
          (await warning.textContent()) ?? '',
          /free on the data folder's disk\. Recording stops below 8\.0 MB/,
        );
        const failures = await a11yFailures(page, 'disk-low-rooms');

        // The archives screen shows it too (the level is the studio's, not the screen's).
        await page.getByRole('link', { name: 'Archives' }).click();
        await page.getByText('No archives yet').waitFor();
        await warning.waitFor();

        // Below the floor: an alert, and the warning gives way to it.
        fillUntil(disk.path, 4 * MB);
        const alert = page.getByRole('alert').filter({ hasText: 'Disk full' });
        await alert.waitFor({ timeout: 15_000 });
        assert.match((await alert.textContent()) ?? '', /new archives are refused/);
        assert.equal(await page.getByRole('status').filter({ hasText: 'Disk space is low' }).count(), 0);
        failures.push(...(await a11yFailures(page, 'disk-full-archives')));
        assert.deepEqual(failures, [], failures.join('\n'));

        // Space freed: the banner goes away by itself.
        for (const name of readdirSync(disk.path).filter((n) => n.startsWith('ballast-')))
          rmSync(join(disk.path, name));
        await alert.waitFor({ state: 'detached', timeout: 15_000 });
        assert.equal((await page.getByTestId('disk-warning').textContent())?.trim(), '');
      } finally {
        await context.close();
        await core?.stop();
        disk.unmount();
      }
    },
  );
});
