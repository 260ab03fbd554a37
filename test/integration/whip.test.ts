import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeClip, SyntheticPublisher } from '../helpers/publisher';
import { waitFor } from '../helpers/studio';
import { useCore } from '../helpers/useCore';

describe('WHIP ingest', () => {
  const ctx = useCore();
  const clip = makeClip({ durationSec: 10 });

  it('accepts an offer with 201, an SDP answer, a Location and an ETag; DELETE ends the stream', async () => {
    const room = await ctx.operator.createRoom();
    const token = await ctx.operator.createToken(room.id);
    const publisher = await SyntheticPublisher.start({
      whipUrl: token.whipUrl,
      token: token.token,
      clip,
      loop: true,
    });
    try {
      assert.match(publisher.answer, /^v=0\r\n/);
      assert.match(publisher.answer, /a=ice-lite/);
      assert.match(publisher.resourceUrl, new RegExp(`/whip/${room.id}/[0-9a-f-]{36}$`));
      const stream = await waitFor(
        async () => {
          const live = await ctx.operator.room(room.id);
          const s = live.session?.streams[0];
          return s?.codecs.video === 'VP8' && s.codecs.audio === 'opus' ? s : undefined;
        },
        10_000,
        'the WHIP stream with its codecs',
      );
      assert.equal(stream.hasAudio, true);
      assert.equal(stream.hasVideo, true);
      assert.equal((await ctx.operator.room(room.id)).session?.connections[0]?.kind, 'whip');

      const patch = await fetch(publisher.resourceUrl, {
        method: 'PATCH',
        headers: {
          'content-type': 'application/trickle-ice-sdpfrag',
          authorization: `Bearer ${token.token}`,
        },
        body:
          'a=ice-ufrag:' +
          /a=ice-ufrag:(\S+)/.exec(publisher.pc.localDescription!.sdp)![1] +
          '\r\na=mid:0\r\na=end-of-candidates\r\n',
      });
      assert.equal(patch.status, 204);
    } finally {
      await publisher.stop();
    }
    await waitFor(
      async () => (await ctx.operator.room(room.id)).session?.streams.length === 0,
      5000,
      'the stream to end',
    );
  });

  it('accepts bundled m-lines with port 0 and a=bundle-only, as GStreamer sends them', async () => {
    const room = await ctx.operator.createRoom();
    const token = await ctx.operator.createToken(room.id);
    const publisher = await SyntheticPublisher.start({
      whipUrl: token.whipUrl,
      token: token.token,
      clip,
      loop: true,
      bundleOnly: true,
    });
    try {
      await waitFor(
        async () => {
          const s = (await ctx.operator.room(room.id)).session?.streams[0];
          return s?.codecs.video === 'VP8' && s.codecs.audio === 'opus';
        },
        10_000,
        'both tracks of the bundle-only offer',
      );
    } finally {
      await publisher.stop();
    }
  });

  it('refuses a missing, wrong or subscriber token with the reason', async () => {
    const room = await ctx.operator.createRoom();
    const url = `${ctx.core.url}/whip/${room.id}`;
    const post = (headers: Record<string, string>, body = 'v=0\r\n') =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/sdp', ...headers }, body });
    const none = await post({});
    assert.equal(none.status, 401);
    assert.match(((await none.json()) as { message: string }).message, /Bearer/);
    const wrong = await post({ authorization: 'Bearer nope' });
    assert.equal(wrong.status, 403);
    const other = await ctx.operator.createRoom();
    const otherToken = await ctx.operator.createToken(other.id);
    const mismatch = await post({ authorization: `Bearer ${otherToken.token}` });
    assert.equal(mismatch.status, 403);
    assert.match(((await mismatch.json()) as { message: string }).message, /another room/);
    const subscriber = await ctx.operator.createToken(room.id, { role: 'subscriber' });
    const denied = await post({ authorization: `Bearer ${subscriber.token}` });
    assert.equal(denied.status, 403);
    assert.match(((await denied.json()) as { message: string }).message, /publisher/);
  });

  it('refuses malformed SDP and other content types with a clear 4xx', async () => {
    const room = await ctx.operator.createRoom();
    const token = await ctx.operator.createToken(room.id);
    const url = `${ctx.core.url}/whip/${room.id}`;
    const cases: Array<{ body: string; type?: string; status: number; message: RegExp }> = [
      { body: '', status: 400, message: /empty/ },
      { body: 'hello', status: 400, message: /v=0/ },
      { body: 'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n', status: 400, message: /no media section/ },
      {
        body: 'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\na=sendonly\r\n',
        status: 400,
        message: /ICE credentials/,
      },
      { body: 'v=0', type: 'application/json', status: 415, message: /application\/sdp/ },
    ];
    for (const c of cases) {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': c.type ?? 'application/sdp', authorization: `Bearer ${token.token}` },
        body: c.body,
      });
      assert.equal(response.status, c.status, c.body);
      const body = (await response.json()) as { code: string; message: string };
      assert.match(body.message, c.message);
    }
    const live = await ctx.operator.room(room.id);
    assert.equal(live.session?.connections.length ?? 0, 0, 'refused offers leave no connection behind');
  });

  it('answers CORS preflights so browser WHIP clients can read Location', async () => {
    const room = await ctx.operator.createRoom();
    const response = await fetch(`${ctx.core.url}/whip/${room.id}`, { method: 'OPTIONS' });
    assert.equal(response.status, 204);
    assert.match(response.headers.get('access-control-expose-headers') ?? '', /Location/);
    assert.match(response.headers.get('access-control-allow-headers') ?? '', /Authorization/);
  });
});
