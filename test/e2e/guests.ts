// Guest-page helpers for the browser specs (they run code in the page: DOM types, hence here
// and not in test/helpers, which is type-checked without the DOM).
import type { Browser, Page } from 'playwright-core';

/** What a guest page receives: decoded video frames and audio bytes over its remote streams. */
export async function guestReceives(
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

/** Opens a join link in a new browser context, waits for the camera preview, and joins. */
export async function joinAsGuest(browser: Browser, url: string): Promise<Page> {
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

/** The page's inbound video RTP stats (frames, loss, PLIs, freezes), for a failure's message. */
export async function inboundVideo(page: Page): Promise<unknown[]> {
  return page.evaluate(async () => {
    const keys = [
      'framesReceived',
      'framesDecoded',
      'keyFramesDecoded',
      'packetsReceived',
      'packetsLost',
      'pliCount',
      'nackCount',
      'freezeCount',
    ];
    const room = (window as unknown as { spoolRoom?: { pc: RTCPeerConnection } }).spoolRoom;
    const out: unknown[] = [];
    (await room?.pc.getStats())?.forEach((s: Record<string, unknown>) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video')
        out.push(Object.fromEntries(keys.map((k) => [k, s[k]])));
    });
    return out;
  });
}

/** What a guest page sends of its camera: the encoder's target bitrate and the frame size. */
export async function outboundVideo(
  page: Page,
): Promise<{ targetBitrate: number; frameWidth: number; limitation: string }> {
  return page.evaluate(async () => {
    const room = (window as unknown as { spoolRoom?: { pc: RTCPeerConnection } }).spoolRoom;
    const out = { targetBitrate: 0, frameWidth: 0, limitation: '' };
    (await room?.pc.getStats())?.forEach((s: Record<string, unknown>) => {
      if (s.type === 'outbound-rtp' && s.kind === 'video') {
        out.targetBitrate = Number(s.targetBitrate ?? 0);
        out.frameWidth = Number(s.frameWidth ?? 0);
        out.limitation = String(s.qualityLimitationReason ?? '');
      }
    });
    return out;
  });
}
