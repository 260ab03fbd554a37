import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { WebSocket } from 'ws';
import type { AnyStudioEvent } from '../../src/shared/events';
import { makeClip, SyntheticPublisher } from '../helpers/publisher';
import { artifactPath, launchChromium } from '../helpers/browser';
import { guestReceives as received, inboundVideo, joinAsGuest, outboundVideo } from './guests';
import { startHeadless, type HeadlessCore } from '../helpers/headless';
import { OperatorClient, waitFor } from '../helpers/studio';
import { tempDir } from '../helpers/tmp';

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

  const joinAs = (url: string): Promise<Page> => joinAsGuest(browser, url);

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
    // Each camera is sent whole from its first seconds: the studio's offer tells libwebrtc to
    // start its estimate at 2.5 Mbit/s (it gets no bandwidth feedback, and from its 300 kbit/s
    // default took ~28 s), and the join page keeps the resolution (the browser's default began
    // a 1280×720 camera at 640×360). The fake camera is 1280×720.
    for (const page of [pageA, pageB]) {
      let sent: Awaited<ReturnType<typeof outboundVideo>> | undefined;
      await waitFor(
        async () => {
          sent = await outboundVideo(page);
          return sent.frameWidth === 1280 && sent.targetBitrate >= 2_000_000;
        },
        8000,
        'the camera sent at 1280 px wide and 2 Mbit/s',
      ).catch((error: Error) => {
        throw new Error(`${error.message}; sent ${JSON.stringify(sent)}`);
      });
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

  it('a guest who publishes asks for a keyframe and the request reaches the publisher', async () => {
    // libwebrtc sends a publishing guest's PLIs with the SSRC of its own video as sender SSRC;
    // werift's router handed them to that stream's receiver, which dropped them
    // (src/main/rooms/rtcpRouting.ts). The guest publishes first; then a WHIP client whose first
    // 3 s of video (its keyframe) are lost joins: the guest's decoder needs a keyframe and asks.
    // The WHIP client's sender counts the PLIs it receives; nothing else asks it for keyframes
    // (no recording, no other viewer).
    const room = await operator.createRoom({ name: 'Keyframe requests' });
    const page = await joinAs((await operator.createToken(room.id, { connectionData: 'Bob' })).joinUrl);
    try {
      await waitFor(
        async () => (await operator.room(room.id)).session?.streams.length === 1,
        10_000,
        "the guest's stream",
      );
      const whip = await operator.createToken(room.id, { connectionData: 'OBS' });
      const publisher = await SyntheticPublisher.start({
        whipUrl: whip.whipUrl,
        token: whip.token,
        // One keyframe per 20 s loop, the first lost.
        clip: makeClip({ durationSec: 20, gopSec: 20 }),
        loop: true,
      });
      publisher.drop('video', 3000);
      let plis = 0;
      for (const transceiver of publisher.pc.getTransceivers())
        if (transceiver.kind === 'video') transceiver.sender.onPictureLossIndication.subscribe(() => plis++);
      try {
        await waitFor(async () => plis > 0, 10_000, "the guest's keyframe request at the publisher").catch(
          async (error: Error) => {
            throw new Error(
              `${error.message}: the guest's video receiver ${JSON.stringify(await inboundVideo(page))}`,
            );
          },
        );
      } finally {
        await publisher.stop();
      }
    } finally {
      await page.context().close();
    }
  });

  /** Collects the studio's events from the operator event socket. */
  async function eventLog(): Promise<{ events: AnyStudioEvent[]; close(): void }> {
    const socket = new WebSocket(`${core.url.replace('http', 'ws')}/api/events`);
    const events: AnyStudioEvent[] = [];
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(JSON.stringify({ type: 'auth', token: operator.token }));
    await new Promise<void>((resolve) =>
      socket.on('message', (raw) => {
        const message = JSON.parse(String(raw)) as { type: string; event?: AnyStudioEvent };
        if (message.type === 'ready') resolve();
        if (message.event) events.push(message.event);
      }),
    );
    return { events, close: () => socket.close() };
  }

  it('a guest sees and hears a WHIP publisher (no browser) in the room', async () => {
    const room = await operator.createRoom({ name: 'WHIP' });
    const whip = await operator.createToken(room.id, { connectionData: 'OBS' });
    const publisher = await SyntheticPublisher.start({
      whipUrl: whip.whipUrl,
      token: whip.token,
      clip: makeClip({ durationSec: 10 }),
      loop: true,
    });
    try {
      const guest = await operator.createToken(room.id, { role: 'subscriber', connectionData: 'Viewer' });
      const page = await joinAs(guest.joinUrl);
      await waitFor(
        async () => {
          const r = await received(page);
          return r.framesDecoded > 10 && r.audioBytes > 1000 && r.videoWidth === 640 ? r : undefined;
        },
        20_000,
        'the WHIP stream in the guest page',
      );
      assert.match((await page.getByTestId('remote').first().textContent()) ?? '', /OBS/);
      await page.context().close();
    } finally {
      await publisher.stop();
    }
  });

  it('refuses an expired token and a token of another room, and the page says why', async () => {
    const room = await operator.createRoom({ name: 'Refusals' });
    const other = await operator.createRoom({ name: 'Other' });
    const expired = await operator.createToken(room.id, { expiresInSec: 1 });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const page = await browser.newPage();
    await page.goto(expired.joinUrl);
    await page.getByRole('button', { name: 'Join' }).click();
    await page.getByRole('alert').filter({ hasText: 'expired' }).waitFor();
    const foreign = await operator.createToken(other.id);
    await page.goto(`${core.url}/join/${room.id}?t=${foreign.token}`);
    await page.getByRole('button', { name: 'Join' }).click();
    await page.getByRole('alert').filter({ hasText: 'another room' }).waitFor();
    await page.goto(`${core.url}/join/${room.id}?t=garbage`);
    await page.getByRole('button', { name: 'Join' }).click();
    await page.getByRole('alert').filter({ hasText: 'not valid' }).waitFor();
    await page.close();
  });

  it('keeps a refusal on screen when the camera preview arrives after it', async () => {
    const room = await operator.createRoom({ name: 'Slow camera' });
    const expired = await operator.createToken(room.id, { expiresInSec: 1 });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const context = await browser.newContext();
    // A camera that takes 2 s to open (a busy machine, a USB camera waking up): the guest
    // clicks Join before the preview is there, and the refusal comes first.
    await context.addInitScript(() => {
      const open = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
      navigator.mediaDevices.getUserMedia = async (constraints) => {
        await new Promise((resolve) => setTimeout(resolve, 2000));
        return open(constraints);
      };
    });
    const page = await context.newPage();
    try {
      await page.goto(expired.joinUrl);
      await page.getByRole('button', { name: 'Join' }).click();
      const refusal = page.getByRole('alert').filter({ hasText: 'expired' });
      await refusal.waitFor({ timeout: 10_000 });
      await waitFor(
        () =>
          page.evaluate(
            () =>
              document.querySelector<HTMLVideoElement>('[data-testid="preview"] video')?.srcObject != null,
          ),
        10_000,
        'the preview',
      );
      assert.ok(await refusal.isVisible(), 'the refusal is still on screen once the preview arrived');
    } finally {
      await context.close();
    }
  });

  it('answers malformed signaling and SDP with errors while the others keep their media', async () => {
    const room = await operator.createRoom({ name: 'Robust' });
    const pageA = await joinAs((await operator.createToken(room.id, { connectionData: 'A' })).joinUrl);
    const pageB = await joinAs((await operator.createToken(room.id, { connectionData: 'B' })).joinUrl);
    await waitFor(async () => (await received(pageB)).framesDecoded > 10, 20_000, 'media before the abuse');

    const rogue = new WebSocket(`${core.url.replace('http', 'ws')}/signaling`);
    const replies: Array<{ type: string; code?: string; message?: string }> = [];
    rogue.on('message', (raw) => replies.push(JSON.parse(String(raw)) as { type: string }));
    await new Promise((resolve) => rogue.once('open', resolve));
    const abuse = [
      'not json',
      '[]',
      '{"type":"nope"}',
      '{"type":"publish","audio":true,"video":true}',
      JSON.stringify({
        type: 'join',
        token: (await operator.createToken(room.id, { connectionData: 'Rogue' })).token,
      }),
      '{"type":"answer","sdp":"v=0\\r\\nnonsense"}',
      '{"type":"publish","audio":"yes"}',
      '{"type":"candidate","candidate":{"candidate":"garbage","sdpMid":"0"}}',
      '{"type":"unpublish","streamId":"does-not-exist"}',
      '{"type":"startRecording"}',
      'x'.repeat(300_000),
    ];
    for (const message of abuse) rogue.send(message);
    await waitFor(
      () => replies.filter((r) => r.type === 'error').length >= 9,
      5000,
      'an error for each bad message',
    ).catch((error: Error) => {
      throw new Error(`${error.message}: ${JSON.stringify(replies)}`);
    });
    const errors = replies.filter((r) => r.type === 'error');
    assert.ok(errors.some((e) => /not valid JSON/.test(e.message ?? '')));
    assert.ok(errors.some((e) => /join the room first/.test(e.message ?? '')));
    assert.ok(errors.some((e) => /no offer is waiting|SDP/.test(e.message ?? '')));
    assert.ok(errors.some((e) => e.code === 'PermissionDenied' && /moderators/.test(e.message ?? '')));
    assert.ok(errors.some((e) => /too large/.test(e.message ?? '')));
    assert.ok(
      replies.some((r) => r.type === 'joined'),
      'a valid join still works after errors',
    );
    rogue.close();

    // Each guest goes on decoding the other's video (a decoder that lost a packet waits for the
    // keyframe its PLI asks for: allowed 20 s). On a failure, what the page's receiver saw.
    for (const [name, page] of [
      ['B', pageB],
      ['A', pageA],
    ] as const) {
      const before = (await received(page)).framesDecoded;
      await waitFor(
        async () => (await received(page)).framesDecoded > before + 30,
        20_000,
        `media still flowing to ${name}`,
      ).catch(async (error: Error) => {
        throw new Error(`${error.message}: ${JSON.stringify(await inboundVideo(page))}`);
      });
    }
    await pageA.context().close();
    await pageB.context().close();
  });

  it('a guest whose page is closed is gone from the room within 5 s, with events', async () => {
    const room = await operator.createRoom({ name: 'Leaving' });
    const log = await eventLog();
    try {
      const stay = await joinAs((await operator.createToken(room.id, { connectionData: 'Stays' })).joinUrl);
      const leave = await joinAs((await operator.createToken(room.id, { connectionData: 'Leaves' })).joinUrl);
      await waitFor(
        async () => (await operator.room(room.id)).session?.streams.length === 2,
        10_000,
        'two streams',
      );
      const closedAt = Date.now();
      await leave.context().close();
      await waitFor(
        () =>
          log.events.find(
            (e) =>
              e.type === 'connection.destroyed' && e.roomId === room.id && e.data.connectionData === 'Leaves',
          ),
        5000,
        'connection.destroyed',
      );
      assert.ok(Date.now() - closedAt < 5000);
      assert.ok(log.events.some((e) => e.type === 'stream.destroyed' && e.roomId === room.id));
      const live = await operator.room(room.id);
      assert.deepEqual(
        live.session?.connections.map((c) => c.connectionData),
        ['Stays'],
      );
      await waitFor(
        async () => (await stay.locator('[data-testid="remote"]').count()) === 0,
        5000,
        'the tile to go',
      );
      await stay.context().close();
    } finally {
      log.close();
    }
  });
});
