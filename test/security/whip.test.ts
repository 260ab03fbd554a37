import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MediaStreamTrack, RTCPeerConnection, RTCRtpCodecParameters, RtpHeader, useOPUS } from 'werift';
import { ROOM_FULL_RETRY_AFTER_SEC } from '../../src/main/rooms/RoomService';
import { MAX_SIGNALED_CANDIDATES } from '../../src/main/rooms/sdp';
import type { ThreadStats } from '../../src/shared/api';
import type { RoomJson } from '../../src/shared/rooms';
import { json } from '../helpers/api';
import { startTestStudio, type TestStudio } from '../helpers/securityStudio';
import { LibwebrtcPublisher } from '../helpers/libwebrtcPublisher';
import type { SyntheticPublisher } from '../helpers/publisher';
import { publishing, roomIn } from '../helpers/securityRooms';
import { waitFor } from '../helpers/studio';

/** Posts a WHIP offer and never completes the connection; returns the session URL. */
async function offerOnly(
  url: string,
  whipUrl: string,
  token: string,
): Promise<{ location: string; pc: RTCPeerConnection }> {
  const pc = new RTCPeerConnection();
  pc.addTransceiver(new MediaStreamTrack({ kind: 'audio' }), { direction: 'sendonly' });
  await pc.setLocalDescription(await pc.createOffer());
  const response = await fetch(whipUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/sdp', authorization: `Bearer ${token}` },
    body: pc.localDescription!.sdp,
  });
  assert.equal(response.status, 201, await response.clone().text());
  await response.text();
  return { location: new URL(response.headers.get('location')!, url).toString(), pc };
}

/** A publisher's offer (werift) with these tracks, sendonly, its candidates gathered. */
async function offerOf(
  kinds: ReadonlyArray<'audio' | 'video'>,
  config: ConstructorParameters<typeof RTCPeerConnection>[0] = {},
): Promise<{ pc: RTCPeerConnection; sdp: string }> {
  const pc = new RTCPeerConnection(config);
  for (const kind of kinds) pc.addTransceiver(new MediaStreamTrack({ kind }), { direction: 'sendonly' });
  await pc.setLocalDescription(await pc.createOffer());
  return { pc, sdp: pc.localDescription!.sdp };
}

/** POSTs an offer; the status, the body (JSON when it is an error) and the headers. */
async function postOffer(whipUrl: string, token: string, sdp: string) {
  const response = await fetch(whipUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/sdp', authorization: `Bearer ${token}` },
    body: sdp,
  });
  const text = await response.text();
  return { status: response.status, text, headers: response.headers };
}

/** A WHIP session of a werift publisher (audio, no media sent) that has connected. */
async function connectedSession(url: string, whipUrl: string, token: string) {
  const { pc, sdp } = await offerOf(['audio']);
  const response = await postOffer(whipUrl, token, sdp);
  assert.equal(response.status, 201, response.text);
  await pc.setRemoteDescription({ type: 'answer', sdp: response.text });
  await waitFor(() => pc.connectionState === 'connected', 5000, 'the WHIP session to connect');
  return { location: new URL(response.headers.get('location')!, url).toString(), pc };
}

/** A trickle PATCH of a session. */
function patch(location: string, token: string, body: string, headers: Record<string, string> = {}) {
  return fetch(location, {
    method: 'PATCH',
    headers: {
      'content-type': 'application/trickle-ice-sdpfrag',
      authorization: `Bearer ${token}`,
      ...headers,
    },
    body,
  });
}

/** A room, a publisher token and a WHIP session offered with it that never connects. */
async function offeredSession(ctx: TestStudio) {
  const { token } = await roomIn(ctx);
  const publisher = await token('publisher');
  return { publisher, ...(await offerOnly(ctx.url, publisher.whipUrl, publisher.token)) };
}

/**
 * A hostile burst from a publisher's own (authenticated) session: the media worker hosting it
 * must keep up — its event loop held < 500 ms, not restarted — and the publisher must stay.
 */
async function burstKeepsWorker(ctx: TestStudio, burst: (sender: SyntheticPublisher) => Promise<void>) {
  const { room, auth, sender } = await publishing(ctx);
  const mediaThread = async () =>
    (
      await json<{ items: ThreadStats[] }>(`${ctx.url}/api/studio/threads`, { headers: auth })
    ).body.items.find((t) => t.name.startsWith('media-'));
  const streams = async () =>
    (await json<RoomJson>(`${ctx.url}/api/rooms/${room.id}`, { headers: auth })).body.session?.streams.length;
  try {
    await waitFor(async () => (await streams()) === 1, 10_000, 'the stream');
    const before = await mediaThread(); // its event-loop figures count from here
    assert.ok(before, 'a media worker hosts the publisher');
    await burst(sender);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const afterwards = await mediaThread();
    assert.equal(afterwards?.threadId, before.threadId, 'the media worker was not restarted');
    assert.ok(
      afterwards.eventLoopDelayMs.max < 500,
      `the media worker's event loop was held up to ${afterwards.eventLoopDelayMs.max} ms`,
    );
    assert.equal(await streams(), 1, 'the publisher is still there');
  } finally {
    await sender.close();
  }
}

describe('WHIP sessions', () => {
  let ctx: TestStudio;
  before(async () => {
    ctx = await startTestStudio({ whipConnectTimeoutSec: 2 });
  });
  after(async () => ctx.close());

  it('are changed and ended only by the token that created them or a moderator', async () => {
    const { token } = await roomIn(ctx);
    const creator = await token('publisher');
    const other = await token('publisher');
    const moderator = await token('moderator');
    const { location, pc } = await offerOnly(ctx.url, creator.whipUrl, creator.token);
    try {
      const as = (t: string, method: string) =>
        fetch(location, {
          method,
          headers: {
            authorization: `Bearer ${t}`,
            ...(method === 'PATCH' ? { 'content-type': 'application/trickle-ice-sdpfrag' } : {}),
          },
          ...(method === 'PATCH' ? { body: 'a=mid:0\r\na=end-of-candidates\r\n' } : {}),
        });
      assert.equal((await as(other.token, 'PATCH')).status, 403);
      assert.equal((await as(other.token, 'DELETE')).status, 403);
      assert.equal((await as(creator.token, 'PATCH')).status, 204);
      assert.equal((await as(moderator.token, 'DELETE')).status, 200);
      assert.equal((await as(creator.token, 'DELETE')).status, 404);
    } finally {
      await pc.close();
    }
  });

  it(
    'a forged RTP header extension length costs the studio nothing: it answers at once, the publisher stays',
    { timeout: 60_000 },
    async () => {
      const { room, auth, sender } = await publishing(ctx);
      try {
        // RTP with a one-byte header extension claiming 65,535 words, in a 36-byte packet: werift's
        // parser (before SRTP authentication) took seconds per packet on it.
        const forged = Buffer.alloc(36, 0x11);
        forged.writeUInt8(0x90, 0); // V=2, X=1
        forged.writeUInt8(96, 1);
        forged.writeUInt16BE(0xbede, 12);
        forged.writeUInt16BE(0xffff, 14);
        const ice = (
          sender.pc.getTransceivers()[0]!.sender.dtlsTransport as unknown as {
            iceTransport: { connection: { send(data: Buffer): Promise<void> } };
          }
        ).iceTransport.connection;
        for (let i = 0; i < 5; i++) await ice.send(forged);
        const sentAt = Date.now();
        await waitFor(
          async () => (await fetch(`${ctx.url}/api/rooms/${room.id}`, { headers: auth })).ok,
          5000,
          'the studio to answer after the forged packets',
        );
        assert.ok(
          Date.now() - sentAt < 5000,
          `the studio answered ${Date.now() - sentAt} ms after the forged packets`,
        );
        const room2 = (await json<RoomJson>(`${ctx.url}/api/rooms/${room.id}`, { headers: auth })).body;
        assert.equal(room2.session?.streams.length, 1, 'the publisher is still there');
      } finally {
        await sender.close();
      }
    },
  );

  it(
    'sequence numbers that jump cost the studio nothing: its media worker keeps up, the publisher stays',
    { timeout: 60_000 },
    () =>
      // Authenticated video packets (the publisher's own SRTP session) whose sequence numbers jump
      // by ~30,000: werift's NACK generator marked every number in between as lost and sorted them
      // all, ~65 ms of the worker's time per packet.
      burstKeepsWorker(ctx, async (sender) => {
        const video = sender.pc.getTransceivers().find((t) => t.kind === 'video')!.sender;
        const dtls = video.dtlsTransport as unknown as {
          sendRtp(payload: Buffer, header: RtpHeader): Promise<number>;
        };
        for (let round = 0; round < 100; round++)
          for (const sequenceNumber of [1, 30000, 60000, 65535])
            await dtls.sendRtp(
              Buffer.from([0x10, 0, 0, 0, 0, 0]),
              new RtpHeader({
                ssrc: video.ssrc,
                payloadType: video.codec!.payloadType,
                sequenceNumber,
                timestamp: 1,
              }),
            );
      }),
  );

  it(
    'transport-cc feedback claiming more than it carries costs the studio nothing (RTCP, never negotiated)',
    { timeout: 60_000 },
    () =>
      // Authenticated RTCP (the publisher's own SRTCP session): 40-byte transport-cc feedback
      // claiming 65,535 received packets. werift made an object for each before reading whether
      // the packet had their deltas, ~11 ms of the worker's time per packet.
      burstKeepsWorker(ctx, async (sender) => {
        const fci = Buffer.alloc(16 + 18 + 2);
        fci.writeUInt16BE(65535, 10);
        for (let i = 0; i < 9; i++) fci.writeUInt16BE((1 << 13) | 8191, 16 + i * 2);
        const packet = Buffer.concat([Buffer.from([0x80 | 15, 205, 0, fci.length / 4]), fci]);
        const dtls = sender.pc.getTransceivers()[0]!.sender.dtlsTransport as unknown as {
          sendRtcp(packets: Array<{ serialize(): Buffer }>): Promise<unknown>;
        };
        for (let round = 0; round < 200; round++) await dtls.sendRtcp([{ serialize: () => packet }]);
      }),
  );

  it('give their slot back when the offer never connects', { timeout: 60_000 }, async () => {
    const { token, connections } = await roomIn(ctx);
    const publisher = await token('publisher');
    const { pc } = await offerOnly(ctx.url, publisher.whipUrl, publisher.token);
    try {
      assert.equal(await connections(), 1);
      await waitFor(
        async () => (await connections()) === 0,
        30_000,
        'the unconnected WHIP offer to time out',
      );
    } finally {
      await pc.close();
    }
  });

  it(`take at most ${MAX_SIGNALED_CANDIDATES} ICE candidates per session, offer and trickle together`, async () => {
    const { publisher, location, pc } = await offeredSession(ctx);
    const ufrag = /a=ice-ufrag:(\S+)/.exec(pc.localDescription!.sdp)![1]!;
    const trickle = (count: number, from: number) =>
      fetch(location, {
        method: 'PATCH',
        headers: {
          'content-type': 'application/trickle-ice-sdpfrag',
          authorization: `Bearer ${publisher.token}`,
        },
        body: [
          `a=ice-ufrag:${ufrag}`,
          'a=mid:0',
          ...Array.from(
            { length: count },
            (_, i) => `a=candidate:${from + i} 1 udp ${2000 + i} 127.0.0.1 ${20000 + from + i} typ host`,
          ),
          '',
        ].join('\r\n'),
      });
    try {
      const refused = await trickle(MAX_SIGNALED_CANDIDATES, 0);
      const body = await refused.text();
      assert.equal(refused.status, 400, body);
      assert.match(body, new RegExp(`too many ICE candidates: .*at most ${MAX_SIGNALED_CANDIDATES}`));
      const taken = await trickle(3, 1000);
      assert.equal(taken.status, 204, await taken.text());
    } finally {
      await pc.close();
    }
  });

  it(
    'refuse an offer with a=setup:active (the studio could not be the DTLS server): 422, no slot taken',
    { timeout: 15_000 },
    async () => {
      const { token, connections } = await roomIn(ctx);
      const publisher = await token('publisher');
      const { pc, sdp } = await offerOf(['audio', 'video']);
      try {
        for (const offer of [
          sdp.replaceAll('a=setup:actpass', 'a=setup:active'),
          // At session level only.
          sdp
            .replaceAll('a=setup:actpass\r\n', '')
            .replace(/\r\nt=0 0\r\n/, '\r\nt=0 0\r\na=setup:active\r\n'),
        ]) {
          const refused = await postOffer(publisher.whipUrl, publisher.token, offer);
          assert.equal(refused.status, 422, refused.text);
          const body = JSON.parse(refused.text) as { code: string; message: string; field: string };
          assert.equal(body.code, 'Unprocessable');
          assert.equal(body.field, 'sdp');
          assert.match(body.message, /a=setup:active is not supported.*offer actpass/);
        }
        assert.equal(await connections(), 0);
      } finally {
        await pc.close();
      }
    },
  );

  it(
    'refuse an offer with two audio or two video sections (a stream has one of each): 422',
    { timeout: 15_000 },
    async () => {
      const { token, connections } = await roomIn(ctx);
      const publisher = await token('publisher');
      for (const kinds of [
        ['audio', 'audio'],
        ['audio', 'video', 'video'],
      ] as const) {
        const { pc, sdp } = await offerOf(kinds);
        try {
          const refused = await postOffer(publisher.whipUrl, publisher.token, sdp);
          assert.equal(refused.status, 422, refused.text);
          assert.match(refused.text, new RegExp(`the offer has 2 active ${kinds.at(-1)} sections`));
        } finally {
          await pc.close();
        }
      }
      assert.equal(await connections(), 0);
    },
  );

  it(
    'refuse an offer whose video codecs are all unsupported (no audio-only 201): 422 naming them, the slot given back',
    { timeout: 15_000 },
    async () => {
      const { token, connections } = await roomIn(ctx);
      const publisher = await token('publisher');
      const { pc, sdp } = await offerOf(['audio', 'video'], {
        codecs: {
          audio: [useOPUS()],
          video: [new RTCRtpCodecParameters({ mimeType: 'video/H265', clockRate: 90000 })],
        },
      });
      try {
        const refused = await postOffer(publisher.whipUrl, publisher.token, sdp);
        assert.equal(refused.status, 422, refused.text);
        const body = JSON.parse(refused.text) as { code: string; message: string };
        assert.equal(body.code, 'Unprocessable');
        assert.match(
          body.message,
          /no video codec of the offer is supported \(offered: H265\); the studio takes VP8, VP9, H264, AV1$/,
        );
        assert.equal(await connections(), 0, 'the refused offer left its connection');
      } finally {
        await pc.close();
      }
    },
  );

  it('take an offer with mixed CRLF and LF line endings', { timeout: 15_000 }, async () => {
    const { token } = await roomIn(ctx);
    const publisher = await token('publisher');
    const { pc, sdp } = await offerOf(['audio', 'video']);
    try {
      let n = 0;
      const mixed = sdp.replace(/\r\n/g, () => (n++ % 2 === 0 ? '\n' : '\r\n'));
      const taken = await postOffer(publisher.whipUrl, publisher.token, mixed);
      assert.equal(taken.status, 201, taken.text);
    } finally {
      await pc.close();
    }
  });

  it(
    'discard a trickled candidate whose address is a name (mDNS .local) at once: 204, no 10 s lookup',
    { timeout: 15_000 },
    async () => {
      const { token } = await roomIn(ctx);
      const publisher = await token('publisher');
      // A trickling client: its offer does not say end-of-candidates (werift ignores any
      // candidate after it).
      const { pc, sdp } = await offerOf(['audio']);
      const posted = await postOffer(
        publisher.whipUrl,
        publisher.token,
        sdp.replace(/a=end-of-candidates\r\n/g, ''),
      );
      assert.equal(posted.status, 201, posted.text);
      const location = new URL(posted.headers.get('location')!, ctx.url).toString();
      try {
        const ufrag = /a=ice-ufrag:(\S+)/.exec(sdp)![1]!;
        const startedAt = Date.now();
        const response = await patch(
          location,
          publisher.token,
          [
            `a=ice-ufrag:${ufrag}`,
            'a=mid:0',
            'a=candidate:1 1 udp 2122260223 5f1c1b6e-3a4e-4bb1-9a8c-0d9c1f3b2a71.local 50000 typ host',
            'a=candidate:2 1 udp 2122194687 127.0.0.1 50001 typ host',
            '',
          ].join('\r\n'),
        );
        assert.equal(response.status, 204, await response.text());
        assert.ok(Date.now() - startedAt < 2000, `the PATCH took ${Date.now() - startedAt} ms`);
      } finally {
        await pc.close();
      }
    },
  );

  it(
    'refuse a PATCH whose If-Match is not the session ETag (412); "*" and the ETag pass',
    { timeout: 15_000 },
    async () => {
      const { publisher, location, pc } = await offeredSession(ctx);
      try {
        const etag = `"${location.split('/').at(-1)}"`;
        const body = 'a=mid:0\r\na=end-of-candidates\r\n';
        const stale = await patch(location, publisher.token, body, { 'if-match': '"another"' });
        assert.equal(stale.status, 412, await stale.clone().text());
        assert.equal(((await stale.json()) as { code: string }).code, 'PreconditionFailed');
        assert.equal(
          (await patch(location, publisher.token, body, { 'if-match': `W/${etag}` })).status,
          412,
          'a weak tag',
        );
        assert.equal((await patch(location, publisher.token, body, { 'if-match': '*' })).status, 204);
        assert.equal(
          (await patch(location, publisher.token, body, { 'if-match': `"x", ${etag}` })).status,
          204,
        );
        assert.equal((await patch(location, publisher.token, body)).status, 204, 'no If-Match');
      } finally {
        await pc.close();
      }
    },
  );

  it(
    'refuse a PATCH with a new ICE password (same ufrag) as an ICE restart: 422',
    { timeout: 15_000 },
    async () => {
      const { publisher, location, pc } = await offeredSession(ctx);
      try {
        const ufrag = /a=ice-ufrag:(\S+)/.exec(pc.localDescription!.sdp)![1]!;
        const pwd = /a=ice-pwd:(\S+)/.exec(pc.localDescription!.sdp)![1]!;
        const fragment = (p: string) =>
          `a=ice-ufrag:${ufrag}\r\na=ice-pwd:${p}\r\na=mid:0\r\na=end-of-candidates\r\n`;
        const restart = await patch(location, publisher.token, fragment('anotherpasswordof24chars'));
        assert.equal(restart.status, 422, await restart.clone().text());
        assert.match(
          ((await restart.json()) as { message: string }).message,
          /ICE restarts are not supported/,
        );
        assert.equal((await patch(location, publisher.token, fragment(pwd))).status, 204);
      } finally {
        await pc.close();
      }
    },
  );

  it(
    'are ended and trickled by their creating token after it expired; a new offer with it is refused',
    { timeout: 20_000 },
    async () => {
      const { room, auth, token } = await roomIn(ctx);
      const short = (
        await json<{ token: string; whipUrl: string; expiresAt: number }>(
          `${ctx.url}/api/rooms/${room.id}/tokens`,
          {
            method: 'POST',
            headers: auth,
            body: { role: 'publisher', expiresInSec: 2 },
          },
        )
      ).body;
      const other = await token('publisher');
      // Connected: an unconnected offer would give its slot back first (whipConnectTimeoutSec).
      const { location, pc } = await connectedSession(ctx.url, short.whipUrl, short.token);
      try {
        await new Promise((resolve) => setTimeout(resolve, short.expiresAt - Date.now() + 1100));
        const body = 'a=mid:0\r\na=end-of-candidates\r\n';
        assert.equal((await patch(location, other.token, body)).status, 403, 'another token');
        const trickled = await patch(location, short.token, body);
        assert.equal(trickled.status, 204, await trickled.text());
        const { sdp } = await offerOf(['audio']);
        const again = await postOffer(short.whipUrl, short.token, sdp);
        assert.equal(again.status, 403, again.text);
        assert.match(again.text, /expired/);
        const ended = await fetch(location, {
          method: 'DELETE',
          headers: { authorization: `Bearer ${short.token}` },
        });
        assert.equal(ended.status, 200, await ended.text());
      } finally {
        await pc.close();
      }
    },
  );

  it(
    'give browser clients on other origins their errors to read (CORS on 401, 415, 404, 403)',
    { timeout: 15_000 },
    async () => {
      const { room, token } = await roomIn(ctx);
      const publisher = await token('publisher');
      const origin = { origin: 'https://whip-client.example' };
      const cases: Array<{ url: string; init: RequestInit; status: number; message?: RegExp }> = [
        {
          url: publisher.whipUrl,
          init: { method: 'POST', headers: { ...origin, 'content-type': 'application/sdp' }, body: 'v=0' },
          status: 401,
        },
        {
          url: publisher.whipUrl,
          init: {
            method: 'POST',
            headers: { ...origin, 'content-type': 'text/plain', authorization: `Bearer ${publisher.token}` },
            body: 'v=0',
          },
          status: 415,
          message: /^POST bodies must be Content-Type: application\/sdp$/,
        },
        { url: `${ctx.url}/whip/${room.id}`, init: { method: 'PUT', headers: origin }, status: 404 },
        {
          url: `${ctx.url}/whip/${room.id}/nope`,
          init: { method: 'DELETE', headers: { ...origin, authorization: `Bearer ${publisher.token}` } },
          status: 404,
        },
        {
          url: `${ctx.url}/whip/${room.id}`,
          init: {
            method: 'POST',
            headers: { ...origin, 'content-type': 'application/sdp', authorization: 'Bearer nope' },
            body: 'v=0',
          },
          status: 403,
        },
      ];
      for (const c of cases) {
        const response = await fetch(c.url, c.init);
        const body = (await response.json()) as { message: string };
        assert.equal(response.status, c.status, `${c.init.method} ${c.url}: ${body.message}`);
        assert.equal(
          response.headers.get('access-control-allow-origin'),
          '*',
          `${c.init.method} ${c.url} ${c.status}`,
        );
        assert.match(response.headers.get('access-control-expose-headers') ?? '', /Location/);
        if (c.message !== undefined) assert.match(body.message, c.message);
      }
      // Not WHIP: no CORS.
      const api = await fetch(`${ctx.url}/api/rooms`, { headers: origin });
      assert.equal(api.headers.get('access-control-allow-origin'), null);
      const elsewhere = await fetch(`${ctx.url}/whipped/${room.id}`, { method: 'POST', headers: origin });
      assert.equal(elsewhere.status, 404);
      assert.equal(elsewhere.headers.get('access-control-allow-origin'), null);
    },
  );

  it('refuse an offer to a full room with 503 and Retry-After', { timeout: 15_000 }, async () => {
    const { room, auth, token } = await roomIn(ctx);
    await json(`${ctx.url}/api/rooms/${room.id}`, {
      method: 'PATCH',
      headers: auth,
      body: { maxParticipants: 1 },
    });
    const first = await token('publisher');
    const second = await token('publisher');
    const { pc } = await offerOnly(ctx.url, first.whipUrl, first.token);
    const { pc: other, sdp } = await offerOf(['audio']);
    try {
      const full = await postOffer(second.whipUrl, second.token, sdp);
      assert.equal(full.status, 503, full.text);
      assert.match(full.text, /the room is full/);
      assert.equal(full.headers.get('retry-after'), String(ROOM_FULL_RETRY_AFTER_SEC));
    } finally {
      await pc.close();
      await other.close();
    }
  });

  it(
    'decline a data channel the publisher offers (no SCTP for a guest to feed); its media flows (libwebrtc)',
    { timeout: 60_000 },
    async () => {
      const { room, auth, token } = await roomIn(ctx);
      const publisher = await token('publisher');
      const sender = await LibwebrtcPublisher.start({
        whipUrl: publisher.whipUrl,
        token: publisher.token,
        durationMs: 3000,
        dataChannel: true,
      });
      try {
        await waitFor(
          async () =>
            (await json<RoomJson>(`${ctx.url}/api/rooms/${room.id}`, { headers: auth })).body.session
              ?.streams[0]?.codecs.video,
          15_000,
          "the publisher's video",
        );
        const report = await sender.finished();
        assert.match(report.answer, /^m=application 0 UDP\/DTLS\/SCTP webrtc-datachannel\r?$/m);
        assert.equal(report.answer.match(/^m=/gm)?.length, 3, 'the answer has the offer’s three sections');
        assert.notEqual(report.dataChannelState, 'open', 'the data channel opened');
      } finally {
        await sender.close();
      }
    },
  );
});

describe('WHIP on the main thread (mediaWorkers: 0)', () => {
  let ctx: TestStudio;
  before(async () => {
    ctx = await startTestStudio({ mediaWorkers: 0 });
  });
  after(async () => ctx.close());

  it(
    'answers an offer it takes whole, and refuses one with no supported video codec (422, slot given back)',
    { timeout: 15_000 },
    async () => {
      const { token, connections } = await roomIn(ctx);
      const publisher = await token('publisher');
      const h265 = await offerOf(['audio', 'video'], {
        codecs: {
          audio: [useOPUS()],
          video: [new RTCRtpCodecParameters({ mimeType: 'video/H265', clockRate: 90000 })],
        },
      });
      let session: Awaited<ReturnType<typeof connectedSession>> | undefined;
      try {
        const refused = await postOffer(publisher.whipUrl, publisher.token, h265.sdp);
        assert.equal(refused.status, 422, refused.text);
        assert.match(refused.text, /no video codec of the offer is supported \(offered: H265\)/);
        assert.equal(await connections(), 0, 'the refused offer left its connection');
        session = await connectedSession(ctx.url, publisher.whipUrl, publisher.token);
        assert.equal(await connections(), 1);
      } finally {
        await h265.pc.close();
        await session?.pc.close();
      }
    },
  );
});
