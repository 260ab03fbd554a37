import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { artifactPath, launchChromium, loginOperator } from '../helpers/browser';
import { startHeadless, TEST_CREDENTIALS, type HeadlessCore } from '../helpers/headless';
import { frameAt, type Frame } from '../helpers/media';
import { makeClip, SyntheticPublisher } from '../helpers/publisher';
import { ArchiveApi, OperatorClient, waitFor } from '../helpers/studio';
import { tempDir } from '../helpers/tmp';

interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Where the composer draws a 4:3 source in a tile: fitted, centred (letterbox). */
function contentBox(tile: Rect): Rect {
  const scale = Math.min(tile.width / 320, tile.height / 240);
  const width = 320 * scale;
  const height = 240 * scale;
  return { x: tile.x + (tile.width - width) / 2, y: tile.y + (tile.height - height) / 2, width, height };
}

/** The bounding box of the pixels of one colour in a frame (red or blue sources). */
function colorBox(frame: Frame, color: 'red' | 'blue'): Rect | null {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (let y = 0; y < frame.height; y++) {
    for (let x = 0; x < frame.width; x++) {
      const at = (y * frame.width + x) * 3;
      const r = frame.data[at]!;
      const g = frame.data[at + 1]!;
      const b = frame.data[at + 2]!;
      const hit = color === 'red' ? r > 150 && g < 90 && b < 90 : b > 150 && r < 90 && g < 90;
      if (!hit) continue;
      x0 = Math.min(x0, x);
      y0 = Math.min(y0, y);
      x1 = Math.max(x1, x);
      y1 = Math.max(y1, y);
    }
  }
  return x1 < 0 ? null : { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

/** The program view's tiles by guest name: their rectangles on the archive's canvas. */
async function programTiles(page: Page): Promise<Record<string, Rect>> {
  const tiles = page.getByTestId('program-tile');
  const out: Record<string, Rect> = {};
  for (let i = 0; i < (await tiles.count()); i++) {
    const tile = tiles.nth(i);
    const [x, y, width, height] = (await tile.getAttribute('data-rect'))!.split(',').map(Number) as [
      number,
      number,
      number,
      number,
    ];
    out[(await tile.getAttribute('title'))!] = { x, y, width, height };
  }
  return out;
}

function near(actual: Rect, expected: Rect, what: string): void {
  for (const key of ['x', 'y', 'width', 'height'] as const) {
    assert.ok(
      Math.abs(actual[key] - expected[key]) <= 3,
      `${what}: composed ${JSON.stringify(actual)} vs program view ${JSON.stringify(expected)}`,
    );
  }
}

describe('program view', () => {
  let dir: ReturnType<typeof tempDir>;
  let core: HeadlessCore;
  let browser: Browser;
  const publishers: SyntheticPublisher[] = [];
  before(async () => {
    dir = tempDir();
    core = await startHeadless({ dataDir: dir.path, timeoutMs: 60_000 });
    browser = await launchChromium();
  });
  after(async () => {
    for (const p of publishers) await p.close();
    await browser?.close();
    await core?.stop();
    dir.remove();
  });

  it(
    'draws the live tiles where the composed file draws them, for bestFit, pip, a saved custom layout and a layout class set in the view',
    { timeout: 240_000 },
    async () => {
      const log = (m: string) =>
        process.env.PROGRAM_DEBUG && console.log(`# ${new Date().toISOString()} ${m}`);
      const operator = await OperatorClient.login(core);
      const room = await operator.createRoom({ name: 'Program' });
      for (const name of ['Red', 'Blue']) {
        const token = await operator.createToken(room.id, { connectionData: name });
        publishers.push(
          await SyntheticPublisher.start({
            whipUrl: token.whipUrl,
            token: token.token,
            clip: makeClip({
              durationSec: 60,
              width: 320,
              height: 240,
              color: name.toLowerCase(),
              videoKbps: 200,
            }),
            loop: true,
          }),
        );
        await waitFor(
          async () =>
            (await operator.room(room.id)).session?.streams.filter((s) => s.codecs.video).length ===
            publishers.length,
          15_000,
          `${name}'s stream`,
        );
      }
      await operator.ok('POST', '/api/layouts', {
        name: 'Corners',
        resolution: '640x480',
        layout: {
          type: 'custom',
          regions: {
            red: { x_pos: 40, y_pos: 40, width: 280, height: 200, z_pos: 1, video_sources: ['data:Red'] },
            blue: { x_pos: 360, y_pos: 220, width: 240, height: 240, z_pos: 1, video_sources: ['data:Blue'] },
          },
        },
      });
      const api = new ArchiveApi(core.url);
      const archive = await api.start({
        sessionId: room.id,
        outputMode: 'composed',
        resolution: '640x480',
        layout: { type: 'bestFit' },
      });

      const page = await (await browser.newContext({ viewport: { width: 1200, height: 1400 } })).newPage();
      await loginOperator(page, core.url, TEST_CREDENTIALS.SPOOL_OPERATOR_PASSWORD);
      await page.goto(`${core.url}/#/rooms/${room.id}`);
      const program = page.getByTestId('program-view');
      log('page open');
      await program.waitFor({ timeout: 20_000 });
      await waitFor(async () => (await page.getByTestId('program-tile').count()) === 2, 20_000, 'two tiles');
      log('tiles shown');
      const phases: Array<{ name: string; from: number; tiles: Record<string, Rect> }> = [
        { name: 'bestFit', from: 0, tiles: await programTiles(page) },
      ];
      await page.waitForTimeout(4000);
      for (const [name, value] of [
        ['pip', 'preset:pip'],
        ['custom', `saved:`],
        ['horizontalPresentation', 'preset:horizontalPresentation'],
      ] as const) {
        const select = page.getByLabel('Program layout');
        const option =
          value === 'saved:'
            ? ((await select.locator('option', { hasText: 'saved: Corners' }).getAttribute('value')) ?? '')
            : value;
        await select.selectOption(option);
        const label = page.getByTestId('program-switched-at');
        await waitFor(
          async () => (await select.inputValue()) === option && (await label.count()) === 1,
          10_000,
          `${name} applied`,
        );
        const at = Number(/([\d.]+) s/.exec((await label.textContent()) ?? '')?.[1]);
        phases.push({ name, from: at, tiles: await programTiles(page) });
        log(`${name} at ${at}`);
        await page.screenshot({ path: artifactPath(`screen-program-${name}.png`), fullPage: true });
        await page.waitForTimeout(4000);
      }
      // Layout classes set in the program view: Blue gets `focus` and takes the large area, in
      // the view and, from that moment, in the recording.
      const before = JSON.stringify(await programTiles(page));
      const classes = page.getByLabel('Layout classes of Blue');
      await classes.fill('focus');
      await classes.press('Enter');
      await waitFor(
        async () => JSON.stringify(await programTiles(page)) !== before,
        10_000,
        'the view re-flows with the class',
      );
      const classesAt = (Date.now() - archive.createdAt) / 1000;
      const blue = (await operator.room(room.id)).session?.streams.find((s) =>
        s.layoutClassList?.includes('focus'),
      );
      assert.ok(blue, 'the stream API has the class');
      phases.push({ name: 'classes', from: classesAt, tiles: await programTiles(page) });
      await page.screenshot({ path: artifactPath('screen-program-classes.png'), fullPage: true });
      await page.waitForTimeout(4000);
      await api.stop(archive.id);
      log('stopped');
      await api.waitStatus(archive.id, 'available', 90_000);
      log('available');
      const file = join(dir.path, 'archives', archive.id, 'archive.mp4');

      for (let i = 0; i < phases.length; i++) {
        const phase = phases[i]!;
        const next = phases[i + 1]?.from ?? phase.from + 4;
        const frame = await frameAt(file, Math.max(1, (phase.from + next) / 2));
        for (const [guest, color] of [
          ['Red', 'red'],
          ['Blue', 'blue'],
        ] as const) {
          const tile = phase.tiles[guest];
          assert.ok(tile, `${phase.name}: the program view shows ${guest}`);
          const drawn = colorBox(frame, color);
          assert.ok(drawn, `${phase.name}: the composed file shows ${guest}`);
          near(drawn, contentBox(tile), `${phase.name}, ${guest}`);
        }
      }
      // The layouts really differ (the test would prove nothing otherwise).
      const drawn = phases.map((p) => JSON.stringify(p.tiles));
      assert.equal(new Set(drawn).size, phases.length, `every phase draws differently: ${drawn.join(' | ')}`);
    },
  );
});
