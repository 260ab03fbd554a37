import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { WebSocket } from 'ws';
import type { ThreadStats } from '../../src/shared/api';
import type { AnyStudioEvent } from '../../src/shared/events';
import type { StreamInfo } from '../../src/shared/events/rooms';
import { launchChromium } from '../helpers/browser';
import { guestReceives, inboundVideo, joinAsGuest } from './guests';
import { checkManifestFiles } from '../helpers/recordingChecks';
import { ArchiveApi, waitFor } from '../helpers/studio';
import { useCore, type CoreContext } from '../helpers/useCore';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One Chromium for the file. */
let browser: Browser;
before(async () => {
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
});

const threads = async (ctx: CoreContext) =>
  (await ctx.operator.ok<{ items: ThreadStats[] }>('GET', '/api/studio/threads')).items;

/** For a failure's message: each page's connection and what it receives, the room, the studio's log tail. */
async function roomState(ctx: CoreContext, roomId: string, pages: Page[]): Promise<unknown> {
  const guests = await Promise.all(
    pages.map(async (page) => ({
      pc: await page.evaluate(() => {
        const room = (
          window as unknown as { spoolRoom?: { pc: RTCPeerConnection; streams: Map<string, unknown> } }
        ).spoolRoom;
        return {
          connection: room?.pc.connectionState,
          signaling: room?.pc.signalingState,
          transceivers: room?.pc.getTransceivers().map((t) => [t.mid, t.direction, t.currentDirection]),
          streams: [...(room?.streams.keys() ?? [])],
        };
      }),
      receives: await guestReceives(page),
      video: await inboundVideo(page),
      alerts: await page.locator('[role=alert]').allTextContents(),
    })),
  );
  const session = (await ctx.operator.room(roomId)).session;
  return {
    guests,
    streams: session?.streams.map((s) => [s.id, s.connectionId, s.codecs]),
    connections: session?.connections.map((c) => c.id),
    threads: (await threads(ctx)).map((t) => [t.name, t.hosts]),
    log: ctx.core.output().slice(-3000),
  };
}

/** Two guests (Alice, Bob) in a new room, each seeing the other; returns their pages and streams. */
async function twoGuests(
  ctx: CoreContext,
): Promise<{ roomId: string; pages: Page[]; streams: StreamInfo[] }> {
  const room = await ctx.operator.createRoom({ name: 'Across workers' });
  const pages: Page[] = [];
  for (const name of ['Alice', 'Bob'])
    pages.push(
      await joinAsGuest(browser, (await ctx.operator.createToken(room.id, { connectionData: name })).joinUrl),
    );
  for (const page of pages)
    await waitFor(
      async () => {
        const r = await guestReceives(page);
        return r.framesDecoded > 10 && r.audioBytes > 1000 && r.videoWidth > 0;
      },
      20_000,
      "each guest to decode the other's video and receive its audio",
    ).catch(async (error: Error) => {
      throw new Error(`${error.message}: ${JSON.stringify(await roomState(ctx, room.id, pages))}`);
    });
  const streams = (await ctx.operator.room(room.id)).session!.streams;
  assert.equal(streams.length, 2);
  return { roomId: room.id, pages, streams };
}

describe('Chromium guests on media workers', () => {
  describe('a room spread over two workers', () => {
    // Each connection on the least-loaded worker: Alice on one, Bob on the other, so each
    // receives the other's stream over the route between the workers.
    const ctx = useCore({
      SPOOL_MEDIA_WORKERS: '2',
      SPOOL_MEDIA_WORKER_PLACEMENT: 'spread',
      SPOOL_SESSION_GRACE_SEC: '1',
    });

    it('each guest sees the other across the workers; both are recorded on their own worker and the files play', async () => {
      const { roomId, pages } = await twoGuests(ctx);
      try {
        const hosting = (await threads(ctx)).filter((t) => t.name.startsWith('media-'));
        assert.deepEqual(
          hosting.map((t) => t.hosts?.peers),
          [1, 1],
          'one guest on each worker',
        );
        const api = new ArchiveApi(ctx.core.url);
        const archive = await api.start({ sessionId: roomId, outputMode: 'individual' });
        await waitFor(
          async () => (await threads(ctx)).filter((t) => t.hosts?.recorders === 1).length === 2,
          10_000,
          'a recorder on each worker',
        );
        await sleep(6000);
        await api.stop(archive.id);
        await api.waitStatus(archive.id, 'available', 20_000);
        const manifest = await checkManifestFiles(ctx.dir, archive.id, 0.5);
        assert.deepEqual(manifest.files.map((f) => f.connectionData).sort(), ['Alice', 'Bob']);
        for (const file of manifest.files) {
          assert.ok(file.hasAudio && file.hasVideo, `${file.filename} has audio and video`);
          const seconds = (file.stopTimeOffset - file.startTimeOffset) / 1000;
          assert.ok(seconds >= 5, `${file.filename}: ${seconds} s of the ~6 s recorded`);
        }
      } finally {
        for (const page of pages) await page.context().close();
      }
    });
  });

  describe('a media worker that dies under recorded guests', () => {
    // The fault ends the worker 3 s after its first recorder's first frame (once: not its restart).
    // A long grace keeps the session (and its archive) while both guests are reconnecting.
    const ctx = useCore({
      SPOOL_MEDIA_WORKERS: '1',
      SPOOL_FAULT: 'media.workerDiesWhileRecording',
      SPOOL_SESSION_GRACE_SEC: '30',
    });

    it('the guests reconnect as themselves; each stream records on in a new segment, the gap being the reconnect (the failing worker wrote what it held); the files play', async (t) => {
      // The studio's own account of when each stream ended and came back.
      const events: AnyStudioEvent[] = [];
      const socket = new WebSocket(`${ctx.core.url.replace('http', 'ws')}/api/events`);
      await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
      socket.on('message', (raw) => {
        const message = JSON.parse(String(raw)) as { event?: AnyStudioEvent };
        if (message.event !== undefined) events.push(message.event);
      });
      socket.send(JSON.stringify({ type: 'auth', token: ctx.operator.token }));
      const { roomId, pages, streams } = await twoGuests(ctx);
      try {
        const ids = streams.map((s) => s.id).sort();
        const api = new ArchiveApi(ctx.core.url);
        const roomStreams = async () => (await ctx.operator.room(roomId)).session?.streams ?? [];
        // Layout classes the operator gave each stream stay with it through the reconnect.
        const classesOf = (id: string) => [`guest-${ids.indexOf(id)}`, 'focus'];
        const set = await api.call('PUT', `/session/${roomId}/stream`, {
          items: ids.map((id) => ({ id, layoutClassList: classesOf(id) })),
        });
        assert.equal(set.status, 200, JSON.stringify(set.body));
        // Alice mutes her microphone: she stays muted through the reconnect.
        await pages[0]!.getByRole('button', { name: 'Mute', exact: true }).click();
        let mutedId = '';
        await waitFor(
          async () => {
            mutedId = (await roomStreams()).find((s) => s.audioMuted)?.id ?? '';
            return mutedId !== '';
          },
          10_000,
          "the studio to hear of Alice's mute",
        );
        // Bob shares his screen: it is shared again after the reconnect, as the same stream.
        await pages[1]!.getByRole('button', { name: 'Share screen' }).click();
        let screenId = '';
        await waitFor(
          async () => {
            screenId =
              (await roomStreams()).find((s) => s.videoType === 'screen' && s.codecs.video !== undefined)
                ?.id ?? '';
            return screenId !== '';
          },
          15_000,
          "the studio to receive Bob's screen",
        );
        const archive = await api.start({ sessionId: roomId, outputMode: 'individual' });
        // The worker dies; the join pages resume and publish again: the streams come back with
        // their ids.
        let seen: StreamInfo[] = [];
        await waitFor(
          async () => {
            seen = await roomStreams();
            const back = seen.filter((s) => ids.includes(s.id) && s.codecs.video === 'VP8');
            const ended = events.filter((e) => e.type === 'stream.destroyed' && ids.includes(e.data.id));
            return back.length === 2 && ended.length === 2;
          },
          40_000,
          'both streams to end with their worker and come back with their ids',
        ).catch(async (error: Error) => {
          const pageErrors = await Promise.all(pages.map((p) => p.locator('[role=alert]').allTextContents()));
          const seenNow = seen.map((s) => [s.id, s.connectionId, s.codecs]);
          throw new Error(`${error.message}: ${JSON.stringify({ ids, seen: seenNow, pageErrors })}`);
        });
        assert.equal((await api.get(archive.id)).status, 'started', 'the archive records on');
        for (const id of ids)
          assert.deepEqual(
            seen.find((s) => s.id === id)?.layoutClassList,
            classesOf(id),
            `stream ${id} keeps its layout classes`,
          );
        await waitFor(
          async () => (await roomStreams()).find((s) => s.id === screenId)?.codecs.video !== undefined,
          15_000,
          "Bob's screen to come back as the same stream",
        );
        // Alice's page published again with her microphone's track off, and says so.
        await pages[0]!.getByRole('button', { name: 'Unmute', exact: true }).waitFor({ timeout: 10_000 });
        const sent = await pages[0]!.evaluate(() => {
          const room = (window as unknown as { spoolRoom: { pc: RTCPeerConnection } }).spoolRoom;
          return room.pc.getSenders().map((sender) => [sender.track?.kind, sender.track?.enabled]);
        });
        assert.deepEqual(
          sent.filter(([kind]) => kind === 'audio'),
          [['audio', false]],
          `Alice's microphone is sent muted after the reconnect: ${JSON.stringify(sent)}`,
        );
        await waitFor(
          async () => (await roomStreams()).find((s) => s.id === mutedId)?.audioMuted === true,
          10_000,
          "Alice's resumed stream to be muted in the studio",
        );
        for (const page of pages) {
          await page.getByRole('button', { name: 'Leave' }).waitFor();
          await waitFor(
            async () => (await guestReceives(page)).framesDecoded > 10,
            20_000,
            'each guest to see the other again after the reconnect',
          ).catch(async (error: Error) => {
            const ends = events
              .filter((e) => e.type === 'connection.destroyed' || e.type === 'connection.created')
              .map((e) => [
                e.type,
                (e.data as { id: string }).id,
                (e.data as { reason?: string }).reason,
                e.createdAt,
              ]);
            const state = await roomState(ctx, roomId, [page]);
            throw new Error(`${error.message}: ${JSON.stringify({ state, ends })}`);
          });
        }
        await sleep(4000);
        await api.stop(archive.id);
        await api.waitStatus(archive.id, 'available', 20_000);

        // Every file plays to the manifest's duration (the first segments repaired from the disk).
        const manifest = await checkManifestFiles(ctx.dir, archive.id, 0.5);
        assert.deepEqual(
          manifest.files
            .filter((f) => f.streamId === screenId)
            .map((f) => f.segment ?? 0)
            .sort(),
          [0, 1],
          "Bob's screen: a new segment after the reconnect",
        );
        for (const id of ids) {
          const files = manifest.files
            .filter((f) => f.streamId === id)
            .sort((a, b) => (a.segment ?? 0) - (b.segment ?? 0));
          assert.deepEqual(
            files.map((f) => f.segment ?? 0),
            [0, 1],
            `stream ${id}: a new segment after the reconnect`,
          );
          const [first, second] = files as [(typeof files)[0], (typeof files)[0]];
          assert.equal(first.connectionId, second.connectionId, 'the same connection');
          for (const file of files)
            assert.deepEqual(
              file.layoutClassList,
              classesOf(id),
              `${file.filename}: the stream's layout classes`,
            );
          assert.ok(
            second.stopTimeOffset - second.startTimeOffset >= 3000,
            `${second.filename} is too short`,
          );
          // The gap = what the dead worker held (from its last frame on disk to its death) + the
          // reconnect (from the death to the first frame of the new segment: the worker's
          // restart, the rejoin, a keyframe). The worker threw: before it ended it wrote the
          // frames it held and finalized its files (measured 47–92 ms held; 1.4 s when a worker
          // ends without doing so: the interleaver's 1 s and the open cluster).
          const diedAt =
            events.find((e) => e.type === 'stream.destroyed' && e.data.id === id)!.createdAt -
            archive.createdAt;
          const held = diedAt - first.stopTimeOffset;
          const reconnect = second.startTimeOffset - diedAt;
          const detail = JSON.stringify({
            first: [first.startTimeOffset, first.stopTimeOffset],
            diedAt,
            second: second.startTimeOffset,
          });
          t.diagnostic(`${id}: held ${held} ms, reconnect ${reconnect} ms: ${detail}`);
          assert.ok(held >= 0 && held <= 1000, `${id}: the worker held ${held} ms: ${detail}`);
          assert.ok(reconnect > 0 && reconnect <= 20_000, `${id}: reconnected in ${reconnect} ms: ${detail}`);
          assert.equal(second.startTimeOffset - first.stopTimeOffset, held + reconnect);
        }
      } finally {
        socket.close();
        for (const page of pages) await page.context().close();
      }
    });
  });
});
