import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { describeViolations, seriousA11yViolations } from '../helpers/axe';
import { artifactPath, launchChromium, loginOperator } from '../helpers/browser';
import { startHeadless, TEST_CREDENTIALS, type HeadlessCore } from '../helpers/headless';
import { makeClip, SyntheticPublisher } from '../helpers/publisher';
import { ArchiveApi, OperatorClient, waitFor } from '../helpers/studio';
import { tempDir } from '../helpers/tmp';

type Theme = 'light' | 'dark';
const THEMES: Theme[] = ['light', 'dark'];

/** A screen: where it is and what shows it has loaded. */
interface Screen {
  name: string;
  hash: string;
  ready(page: Page): Promise<unknown>;
}

describe('every screen, empty and with data, light and dark: screenshots and axe-core', () => {
  let dir: ReturnType<typeof tempDir>;
  let core: HeadlessCore;
  let browser: Browser;
  let operator: OperatorClient;
  let context: BrowserContext;
  let page: Page;
  const failures: string[] = [];
  before(async () => {
    dir = tempDir();
    core = await startHeadless({ dataDir: dir.path });
    operator = await OperatorClient.login(core);
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on('pageerror', (error) => console.error('operator page error:', error.message));
  });
  after(async () => {
    await context?.close();
    await browser?.close();
    await core?.stop();
    dir.remove();
  });

  /** Shows the screen in both themes, saves a screenshot of each and records axe's findings. */
  async function check(screen: Screen, state: 'empty' | 'data'): Promise<void> {
    await page.goto(`${core.url}/${screen.hash}`);
    for (const theme of THEMES) {
      await page.emulateMedia({ colorScheme: theme });
      await screen.ready(page);
      await page.screenshot({
        path: artifactPath(`a11y-${screen.name}-${state}-${theme}.png`),
        fullPage: true,
      });
      const violations = await seriousA11yViolations(page);
      if (violations.length > 0)
        failures.push(`${screen.name} (${state}, ${theme}):\n  ${describeViolations(violations)}`);
    }
  }

  const heading = (name: string | RegExp) => (p: Page) =>
    p
      .getByRole('heading', { name, exact: typeof name === 'string' })
      .first()
      .waitFor();

  it('the login screen has no serious or critical accessibility violation', async () => {
    await check(
      { name: 'login', hash: '', ready: (p) => p.getByLabel('Operator password').waitFor() },
      'empty',
    );
    assert.deepEqual(failures, [], failures.join('\n'));
  });

  it('the empty screens say what to do next and pass axe', async () => {
    await loginOperator(page, core.url, TEST_CREDENTIALS.SPOOL_OPERATOR_PASSWORD);
    const empty: Screen[] = [
      { name: 'rooms', hash: '#/rooms', ready: (p) => p.getByText('No rooms yet').waitFor() },
      { name: 'archives', hash: '#/archives', ready: (p) => p.getByText('No archives yet').waitFor() },
      { name: 'layouts', hash: '#/layouts', ready: heading('Layout editor') },
      { name: 'settings', hash: '#/settings', ready: heading('Settings') },
      { name: 'status', hash: '#/status', ready: heading('Studio status') },
    ];
    for (const screen of empty) await check(screen, 'empty');
    await page.goto(`${core.url}/#/archives`);
    await page.getByText('Start a recording in a room').waitFor();
    await page.goto(`${core.url}/#/rooms`);
    await page.getByText(/Create a room/).waitFor();
    const room = await operator.createRoom({ name: 'Empty room' });
    await check(
      {
        name: 'room',
        hash: `#/rooms/${room.id}`,
        ready: heading('Nobody is in the room'),
      },
      'empty',
    );
    assert.deepEqual(failures, [], failures.join('\n'));
  });

  it(
    'the screens with data pass axe, a lossy guest gets a warning badge within 3 s, and the record flow works from the keyboard',
    { timeout: 180_000 },
    async () => {
      const room = await operator.createRoom({ name: 'Morning show' });
      const token = await operator.createToken(room.id, { connectionData: 'Ada Lovelace' });
      const publisher = await SyntheticPublisher.start({
        whipUrl: token.whipUrl,
        token: token.token,
        clip: makeClip({ durationSec: 10 }),
        loop: true,
      });
      try {
        await operator.ok('POST', '/api/layouts', {
          name: 'Two up',
          resolution: '1280x720',
          layout: { type: 'bestFit' },
        });
        await page.goto(`${core.url}/#/rooms/${room.id}`);
        await page.getByTestId('live-tile').first().waitFor({ timeout: 30_000 });

        // The guest's connection health: numbers on a clean line, then a warning within 3 s of a
        // 5 % random packet loss (dropped by the WHIP publisher: Chromium's network emulation does
        // not throttle WebRTC media).
        const tile = page.getByTestId('live-tile').first();
        const health = tile.getByTestId('stream-health');
        await health.filter({ hasText: '640×360' }).waitFor({ timeout: 30_000 });
        assert.match((await health.textContent())!, /(kbit|Mbit)\/s .* % loss .* \d+ fps/);
        const lossBadge = tile.getByTestId('health-warning').filter({ hasText: 'packet loss' });
        assert.equal(await lossBadge.count(), 0, 'no loss on a clean line');
        publisher.lossRate = 0.05;
        const lossStart = Date.now();
        await lossBadge.waitFor({ timeout: 3000 });
        console.log(JSON.stringify({ bench: 'health-warning-latency', ms: Date.now() - lossStart }));
        await page.screenshot({ path: artifactPath('screen-room-health-warning.png') });
        publisher.lossRate = 0;

        // The record flow from the keyboard: Tab to "Start recording", Enter; Tab to "Stop", Enter.
        const tabTo = async (name: string) => {
          for (let i = 0; i < 80; i += 1) {
            await page.keyboard.press('Tab');
            const focused = await page.evaluate(() => document.activeElement?.textContent?.trim() ?? '');
            if (focused === name) return;
          }
          assert.fail(`"${name}" cannot be reached with Tab`);
        };
        await tabTo('Start recording');
        const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
        assert.notEqual(outline, 'none', 'the focused button shows its focus');
        await page.keyboard.press('Enter');
        await page.getByTestId('room-recording').waitFor({ timeout: 15_000 });
        await check(
          {
            name: 'room',
            hash: `#/rooms/${room.id}`,
            ready: (p) => p.getByTestId('stream-health').first().waitFor({ timeout: 15_000 }),
          },
          'data',
        );
        await page.waitForTimeout(2500); // a few seconds of recording to look at
        await page.locator('body').click({ position: { x: 5, y: 5 } });
        await tabTo('Stop recording');
        await page.keyboard.press('Enter');
        await page.getByTestId('room-recording').waitFor({ state: 'detached', timeout: 15_000 });
        // The rest needs no live media: the machine's cores go to the checks.
        await publisher.stop();

        const api = new ArchiveApi(core.url);
        const archive = (
          await api.call<{ items: Array<{ id: string }> }>('GET', `/archive?sessionId=${room.id}`)
        ).body.items[0]!;
        await api.waitStatus(archive.id, 'available', 20_000);
        await waitFor(
          async () =>
            (
              await fetch(`${core.url}/api/archives/${archive.id}/poster`, {
                headers: { authorization: `Bearer ${operator.token}` },
              })
            ).ok,
          20_000,
          'the poster',
        );

        const withData: Screen[] = [
          {
            name: 'rooms',
            hash: '#/rooms',
            ready: (p) => p.getByRole('link', { name: 'Morning show' }).waitFor(),
          },
          {
            name: 'archives',
            hash: '#/archives',
            ready: async (p) => {
              await p.getByTestId('archive-poster').first().waitFor({ timeout: 15_000 });
              await p.getByTestId('archive-participants').filter({ hasText: 'Ada Lovelace' }).waitFor();
            },
          },
          { name: 'archive', hash: `#/archives/${archive.id}`, ready: heading(/Morning show — /) },
          { name: 'layouts', hash: '#/layouts', ready: heading('Layout editor') },
          { name: 'settings', hash: '#/settings', ready: heading('Settings') },
          { name: 'status', hash: '#/status', ready: heading('Studio status') },
        ];
        for (const screen of withData) await check(screen, 'data');

        // The archive list finds an archive by a guest's name, and says so when nothing matches.
        await page.goto(`${core.url}/#/archives`);
        await page.getByLabel('Search archives').fill('lovelace');
        await page.getByTestId('archive-row').first().waitFor();
        await page.getByLabel('Search archives').fill('nobody by that name');
        await page.getByText('No archive matches').waitFor();

        // The guest page, in its lobby.
        const guestToken = await operator.createToken(room.id, { connectionData: 'Guest Two' });
        const guest = await context.newPage();
        await guest.goto(guestToken.joinUrl);
        for (const theme of THEMES) {
          await guest.emulateMedia({ colorScheme: theme });
          await guest.getByRole('button', { name: 'Join' }).waitFor();
          await guest.screenshot({ path: artifactPath(`a11y-join-lobby-${theme}.png`), fullPage: true });
          const violations = await seriousA11yViolations(guest);
          if (violations.length > 0) failures.push(`join (${theme}):\n  ${describeViolations(violations)}`);
        }
        await guest.close();
      } finally {
        await publisher.stop();
      }
      assert.deepEqual(failures, [], failures.join('\n'));
    },
  );
});
