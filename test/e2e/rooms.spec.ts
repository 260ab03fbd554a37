import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { artifactPath, launchChromium } from '../helpers/browser';
import { startHeadless, type HeadlessCore } from '../helpers/headless';
import { OperatorClient, waitFor } from '../helpers/studio';
import { tempDir } from '../helpers/tmp';

/** Stats of what a guest page receives: decoded video frames and audio bytes per remote stream. */
async function received(
  page: Page,
): Promise<{ framesDecoded: number; audioBytes: number; videoWidth: number }> {
  return page.evaluate(async () => {
    const room = (window as unknown as { spoolRoom?: RTCPeerConnection & { pc: RTCPeerConnection } })
      .spoolRoom;
    let framesDecoded = 0;
    let audioBytes = 0;
    if (room) {
      const stats = await room.pc.getStats();
      stats.forEach((s: { type: string; kind?: string; framesDecoded?: number; bytesReceived?: number }) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') framesDecoded += s.framesDecoded ?? 0;
        if (s.type === 'inbound-rtp' && s.kind === 'audio') audioBytes += s.bytesReceived ?? 0;
      });
    }
    const video = document.querySelector<HTMLVideoElement>('[data-testid="remote"] video');
    return { framesDecoded, audioBytes, videoWidth: video?.videoWidth ?? 0 };
  });
}

describe('guests in a room', () => {
  let dir: ReturnType<typeof tempDir>;
  let core: HeadlessCore;
  let browser: Browser;
  let operator: OperatorClient;
  before(async () => {
    dir = tempDir();
    core = await startHeadless({ dataDir: dir.path, env: { SPOOL_SESSION_GRACE_SEC: '1' } });
    browser = await launchChromium();
    operator = await OperatorClient.login(core);
  });
  after(async () => {
    await browser?.close();
    await core?.stop();
    dir.remove();
  });

  async function joinAs(url: string): Promise<Page> {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('pageerror', (error) => console.error('page error:', error.message));
    await page.goto(url);
    await page
      .getByTestId('preview')
      .locator('video')
      .evaluate(
        (v: HTMLVideoElement) =>
          new Promise<void>((resolve) =>
            v.videoWidth > 0 ? resolve() : v.addEventListener('loadedmetadata', () => resolve()),
          ),
      );
    await page.getByRole('button', { name: 'Join' }).click();
    await page.getByRole('button', { name: 'Leave' }).waitFor();
    return page;
  }

  it("two Chromium guests each decode the other's video and receive audio", async () => {
    const room = await operator.createRoom({ name: 'Two guests' });
    const alice = await operator.createToken(room.id, { connectionData: 'Alice' });
    const bob = await operator.createToken(room.id, { connectionData: 'Bob' });
    const pageA = await joinAs(alice.joinUrl);
    const pageB = await joinAs(bob.joinUrl);
    for (const page of [pageA, pageB]) {
      const stats = await waitFor(
        async () => {
          const r = await received(page);
          return r.framesDecoded > 10 && r.audioBytes > 1000 && r.videoWidth > 0 ? r : undefined;
        },
        20_000,
        'remote video and audio',
      );
      assert.ok(stats.videoWidth > 0);
    }
    await pageA.screenshot({ path: artifactPath('join-two-guests.png') });
    const live = await operator.room(room.id);
    assert.equal(live.session?.connections.length, 2);
    assert.equal(live.session?.streams.length, 2);
    for (const stream of live.session!.streams) {
      assert.equal(stream.codecs.audio, 'opus');
      assert.equal(stream.codecs.video, 'VP8');
      assert.equal(stream.videoType, 'camera');
    }
    assert.match((await pageB.getByTestId('remote').first().textContent()) ?? '', /Alice/);
    await pageA.context().close();
    await pageB.context().close();
  });
});
