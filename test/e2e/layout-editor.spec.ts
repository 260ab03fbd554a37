import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import type { ArchiveJson } from '../../src/shared/archive';
import type { CompositionJson } from '../../src/shared/compositions';
import { projectJwt } from '../helpers/api';
import { artifactPath, launchChromium, loginOperator } from '../helpers/browser';
import { startHeadless, TEST_CREDENTIALS, type HeadlessCore } from '../helpers/headless';
import { frameAt, pixel } from '../helpers/media';
import { makeClip, SyntheticPublisher } from '../helpers/publisher';
import { OperatorClient, waitFor } from '../helpers/studio';
import { tempDir } from '../helpers/tmp';

describe('layout editor', () => {
  let dir: ReturnType<typeof tempDir>;
  let core: HeadlessCore;
  let browser: Browser;
  let archive: ArchiveJson;
  before(async () => {
    dir = tempDir();
    core = await startHeadless({ dataDir: dir.path });
    browser = await launchChromium();
    // An archive of one red source.
    const operator = await OperatorClient.login(core);
    const room = await operator.createRoom({ name: 'Red' });
    const token = await operator.createToken(room.id, { connectionData: 'Red' });
    const publisher = await SyntheticPublisher.start({
      whipUrl: token.whipUrl,
      token: token.token,
      clip: makeClip({ durationSec: 20, color: 'red' }),
      loop: true,
    });
    await waitFor(
      async () => (await operator.room(room.id)).session?.streams[0]?.codecs.video,
      10_000,
      'the stream',
    );
    const base = `${core.url}/v2/project/${TEST_CREDENTIALS.SPOOL_API_KEY}/archive`;
    const headers = { 'x-opentok-auth': await projectJwt(), 'content-type': 'application/json' };
    archive = (await (
      await fetch(base, {
        method: 'POST',
        headers,
        body: JSON.stringify({ sessionId: room.id, outputMode: 'individual', name: 'red' }),
      })
    ).json()) as ArchiveJson;
    await new Promise((resolve) => setTimeout(resolve, 5000));
    await fetch(`${base}/${archive.id}/stop`, { method: 'POST', headers, body: '{}' });
    await publisher.stop();
  });
  after(async () => {
    await browser?.close();
    await core?.stop();
    dir.remove();
  });

  it('drags and resizes a region, saves the layout, applies it to a composition, and the output matches', async () => {
    const page = await (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage();
    await loginOperator(page, core.url, TEST_CREDENTIALS.SPOOL_OPERATOR_PASSWORD);
    await page.getByRole('link', { name: 'Layouts' }).click();
    await page.getByLabel('Resolution').selectOption('1280x720');
    await page.getByRole('button', { name: 'Add region' }).click();
    const region = page.getByTestId('region-region1');
    await region.waitFor();
    // Drag the region 200 px right and 100 px down (400 and 200 canvas pixels at half scale).
    const box = (await region.boundingBox())!;
    await page.mouse.move(box.x + 20, box.y + 20);
    await page.mouse.down();
    await page.mouse.move(box.x + 120, box.y + 70, { steps: 5 });
    await page.mouse.move(box.x + 220, box.y + 120, { steps: 5 });
    await page.mouse.up();
    // Make it smaller with its corner handle.
    const handle = page.getByTestId('resize-region1');
    const h = (await handle.boundingBox())!;
    await page.mouse.move(h.x + 5, h.y + 5);
    await page.mouse.down();
    await page.mouse.move(h.x - 45, h.y - 25, { steps: 5 });
    await page.mouse.up();
    const form = page
      .getByRole('group', { name: 'Region region1' })
      .or(page.locator('[aria-label="Region region1"]'));
    const value = async (label: string) => Number(await form.getByLabel(label, { exact: true }).inputValue());
    const rect = {
      x: await value('x'),
      y: await value('y'),
      width: await value('width'),
      height: await value('height'),
    };
    assert.ok(rect.x > 300 && rect.y > 150, `moved: ${JSON.stringify(rect)}`);
    assert.ok(rect.width < 640 && rect.height < 360, `resized: ${JSON.stringify(rect)}`);
    // Undo and redo the resize.
    await page.getByRole('button', { name: 'Undo' }).click();
    assert.equal(await value('width'), 640);
    await page.getByRole('button', { name: 'Redo' }).click();
    assert.equal(await value('width'), rect.width);

    await page.getByLabel('Layout name').fill('Red box');
    await page.getByRole('button', { name: 'Save layout' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
    await page.getByLabel('Archive to compose').selectOption(archive.id);
    await page.getByRole('button', { name: 'Compose with this layout' }).click();
    await page.getByRole('status').filter({ hasText: 'queued' }).waitFor();
    await page.screenshot({ path: artifactPath('screen-layout-editor.png'), fullPage: true });

    const operator = await OperatorClient.login(core);
    const composition = await waitFor(
      async () => {
        const list = await operator.ok<{ items: CompositionJson[] }>(
          'GET',
          `/api/compositions?archiveId=${archive.id}`,
        );
        const c = list.items[0];
        if (c?.status === 'failed') throw new Error(`composition failed: ${c.error}`);
        return c?.status === 'completed' ? c : undefined;
      },
      90_000,
      'the composition',
    );
    const saved = await operator.ok<{ items: Array<{ name: string }> }>('GET', '/api/layouts');
    assert.deepEqual(
      saved.items.map((l) => l.name),
      ['Red box'],
    );

    const file = join(dir.path, 'archives', archive.id, composition.filename!);
    const frame = await frameAt(file, 2);
    assert.equal(frame.width, 1280);
    const center = pixel(frame, rect.x + rect.width / 2, rect.y + rect.height / 2);
    assert.ok(center[0] > 180 && center[1] < 80 && center[2] < 80, `red inside the region: ${center}`);
    for (const [x, y] of [
      [100, 100],
      [1200, 650],
      [Math.max(0, rect.x - 40), Math.max(0, rect.y - 40)],
    ] as const) {
      const outside = pixel(frame, x, y);
      assert.ok(
        outside[0] < 60 && outside[1] < 60 && outside[2] < 60,
        `dark outside the region at ${x},${y}: ${outside}`,
      );
    }
    await page.context().close();
  });
});
