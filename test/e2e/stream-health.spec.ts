import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { artifactPath, launchChromium, loginOperator } from '../helpers/browser';
import { startHeadless, TEST_CREDENTIALS, type HeadlessCore } from '../helpers/headless';
import { makeClip, SyntheticPublisher } from '../helpers/publisher';
import { OperatorClient } from '../helpers/studio';
import { tempDir } from '../helpers/tmp';

describe('guest connection health on the room screen', () => {
  let dir: ReturnType<typeof tempDir>;
  let core: HeadlessCore;
  let browser: Browser;
  let operator: OperatorClient;
  before(async () => {
    dir = tempDir();
    core = await startHeadless({ dataDir: dir.path });
    operator = await OperatorClient.login(core);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await core?.stop();
    dir.remove();
  });

  it('a WHIP publisher dropping 5 % of its packets at random shows the warning badge within 3 s', async () => {
    const room = await operator.createRoom({ name: 'Lossy line' });
    const token = await operator.createToken(room.id, { connectionData: 'Remote guest' });
    const publisher = await SyntheticPublisher.start({
      whipUrl: token.whipUrl,
      token: token.token,
      clip: makeClip({ durationSec: 10, videoKbps: 800 }),
      loop: true,
    });
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    try {
      await loginOperator(page, core.url, TEST_CREDENTIALS.SPOOL_OPERATOR_PASSWORD);
      await page.goto(`${core.url}/#/rooms/${room.id}`);
      const tile = page.getByTestId('live-tile').first();
      const health = tile.getByTestId('stream-health');
      // A clean line: numbers, no warning.
      await health.filter({ hasText: '640×360' }).waitFor({ timeout: 30_000 });
      assert.match((await health.textContent())!, /kbit\/s|Mbit\/s/);
      assert.match((await health.textContent())!, /\d+ fps/);
      assert.equal(await tile.getByTestId('health-warning').count(), 0);

      publisher.lossRate = 0.05;
      const start = Date.now();
      const badge = tile.getByTestId('health-warning');
      await badge.waitFor({ timeout: 3000 });
      const elapsed = Date.now() - start;
      assert.match((await badge.textContent())!, /packet loss/);
      console.log(JSON.stringify({ bench: 'health-warning-latency', ms: elapsed }));
      await page.screenshot({ path: artifactPath('screen-room-health-warning.png') });
    } finally {
      await page.context().close();
      await publisher.stop();
    }
  });
});
