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

// The two side by side: each has its own studio, data folder and browser context, and waits for
// what it checks with a deadline (neither measures time).
describe("operator UI: the data disk's level and dropped frames", { concurrency: 2 }, () => {
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
  it(
    'frames dropped by a disk that cannot keep up show live in the room (archive and stream) and per track in the archive, as the manifest counts them',
    { timeout: 150_000 },
    async () => {
      const dir = tempDir();
      let core: HeadlessCore | null = null;
      const publishers: SyntheticPublisher[] = [];
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      try {
        core = await startHeadless({
          dataDir: dir.path,
          env: {
            // A disk taking 100 KB/s behind a 1 MB queue: two 2.5 Mbit/s guests overrun it.
            SPOOL_TEST_DISK_BYTES_PER_SEC: '100000',
            SPOOL_RECORDING_QUEUE_BYTES: String(MB),
            SPOOL_KEYFRAME_INTERVAL_SEC: '1',
            SPOOL_SESSION_GRACE_SEC: '60',
          },
        });
        const operator = await OperatorClient.login(core);
        const api = new ArchiveApi(core.url);
        const room = await operator.createRoom({ name: 'Slow disk' });
        const clip = makeClip({ durationSec: 20, videoKbps: 2500 });
        for (let i = 0; i < 2; i++) {
          const token = await operator.createToken(room.id, { connectionData: `Guest ${i}` });
          publishers.push(
            await startPublisher({ whipUrl: token.whipUrl, token: token.token, clip, loop: true }),
          );
        }
        await waitFor(
          async () => ((await operator.room(room.id)).session?.streams.length ?? 0) === 2,
          15_000,
          'two streams',
        );
        const page = await context.newPage();
        await loginOperator(page, core.url, TEST_CREDENTIALS.SPOOL_OPERATOR_PASSWORD);
        await page.goto(`${core.url}/#/rooms/${room.id}`);
        await page.getByTestId('live-tile').nth(1).waitFor({ timeout: 30_000 });
        const archive = await api.start({ sessionId: room.id, outputMode: 'individual' });

        // Live: the archive's count and each stream's, by track and reason.
        const count = async (testId: string) =>
          Number((await page.getByTestId(testId).first().getAttribute('data-count')) ?? 0);
        await waitFor(
          async () =>
            /disk too slow \d+/.test((await page.getByTestId('frames-dropped').textContent()) ?? ''),
          30_000,
          'frames dropped for the slow disk in the room',
        );
        assert.ok((await count('frames-dropped')) > 0);
        await waitFor(
          async () => (await page.getByTestId('stream-drops').count()) === 2,
          10_000,
          'dropped frames on each stream tile',
        );
        assert.match((await page.getByTestId('stream-drops').first().textContent()) ?? '', /video: /);
        const failures = await a11yFailures(page, 'drops-room');
        await api.stop(archive.id);
        await api.waitStatus(archive.id, 'available', 60_000);

        // After: each file's tracks with the manifest's numbers.
        const manifest = manifestOf(dir.path, archive.id);
        await page.goto(`${core.url}/#/archives/${archive.id}`);
        await page
          .getByTestId('file-drops')
          .nth(manifest.files.length - 1)
          .waitFor({ timeout: 15_000 });
        let total = 0;
        for (const file of manifest.files) {
          const tracks = Object.values(file.tracks ?? {});
          const dropped = tracks.reduce(
            (n, t) => n + t.framesDropped.backpressure + t.framesDropped.late + t.framesDropped.broken,
            0,
          );
          total += dropped;
          const row = page.getByRole('row').filter({ hasText: file.filename });
          assert.equal(
            Number(await row.getByTestId('file-drops').getAttribute('data-count')),
            dropped,
            `${file.filename}: the archive view and the manifest disagree`,
          );
        }
        assert.ok(total > 0, 'the slow disk dropped no frame');
        failures.push(...(await a11yFailures(page, 'drops-archive')));
        assert.deepEqual(failures, [], failures.join('\n'));
      } finally {
        await context.close();
        for (const p of publishers) await p.close();
        await core?.stop();
        dir.remove();
      }
    },
  );
});
