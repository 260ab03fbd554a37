import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RTCPeerConnection } from 'werift';
import { WebSocket } from 'ws';
import { signalingSocketCounters } from '../../src/main/http/routes/rooms';
import { SIGNALING_LIMITS, signalingCounters } from '../../src/main/rooms/SignalingSession';
import type { AnyStudioEvent } from '../../src/shared/events';
import { json, operatorToken } from '../helpers/api';
import { startTestStudio, type TestStudio } from '../helpers/securityStudio';
import { makeClip, SyntheticPublisher } from '../helpers/publisher';
import { waitFor } from '../helpers/studio';

type Message = { type: string; [key: string]: unknown };

/** A WHIP publisher's URL and token in a room. */
async function publisherToken(ctx: TestStudio, auth: Record<string, string>, roomId: string) {
  const { body } = await json<{ token: string; whipUrl: string }>(`${ctx.url}/api/rooms/${roomId}/tokens`, {
    method: 'POST',
    headers: auth,
    body: { role: 'publisher' },
  });
  return { whipUrl: body.whipUrl, token: body.token };
}

/** A signaling client that keeps every message it receives. */
async function guest(ctx: TestStudio, token: string, roomId: string, join: Record<string, unknown> = {}) {
  const socket = new WebSocket(`ws://127.0.0.1:${ctx.port}/signaling`);
  const messages: Message[] = [];
  socket.on('message', (raw) => messages.push(JSON.parse(String(raw)) as Message));
  const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const next = async (type: string, timeoutMs = 15_000): Promise<Message> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = messages.findIndex((m) => m.type === type);
      if (index >= 0) return messages.splice(index, 1)[0]!;
      if (Date.now() > deadline) throw new Error(`no ${type} message; got ${JSON.stringify(messages)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  socket.send(JSON.stringify({ type: 'join', token, roomId, ...join }));
  const joined = await next('joined');
  return { socket, messages, closed, next, joined, send: (m: unknown) => socket.send(JSON.stringify(m)) };
}

describe('signaling limits per connection', () => {
  let ctx: TestStudio;
  let auth: Record<string, string>;
  let roomId: string;
  const token = async () =>
    (
      await json<{ token: string }>(`${ctx.url}/api/rooms/${roomId}/tokens`, {
        method: 'POST',
        headers: auth,
        body: { role: 'moderator' },
      })
    ).body.token;

  before(async () => {
    ctx = await startTestStudio();
    auth = { authorization: `Bearer ${await operatorToken(ctx.url)}` };
    roomId = (
      await json<{ id: string }>(`${ctx.url}/api/rooms`, {
        method: 'POST',
        headers: auth,
        body: { name: 'r' },
      })
    ).body.id;
  });
  after(async () => ctx.close());

  it('a `resume` the studio did not give is no way into another connection: the join makes a new one', async () => {
    const first = await guest(ctx, await token(), roomId);
    // An unknown secret, and the connection's own id as one: each join is a new connection.
    for (const resume of ['A'.repeat(32), first.joined.connectionId as string]) {
      const other = await guest(ctx, await token(), roomId, { resume });
      assert.equal(other.joined.resumed, false);
      assert.notEqual(other.joined.connectionId, first.joined.connectionId);
      other.socket.close();
    }
    assert.equal(first.joined.resumed, false);
    first.socket.close();
  });

  it('refuses an answer that is not an answer to its offer (or turns a section into a data channel), and takes the real one after it', async () => {
    const sender = await SyntheticPublisher.start({
      ...(await publisherToken(ctx, auth, roomId)),
      clip: makeClip({ durationSec: 5 }),
      loop: true,
    });
    const client = await guest(ctx, await token(), roomId);
    try {
      const offer = await client.next('offer');
      for (const sdp of ['v=0\r\nnonsense', 'nonsense', 'v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n']) {
        client.send({ type: 'answer', sdp });
        const refused = await client.next('error');
        assert.equal(refused.code, 'InvalidArgument', JSON.stringify(refused));
        assert.match(
          String(refused.message),
          /answer SDP was refused: it has \d media sections, the offer 2/,
        );
      }
      const pc = new RTCPeerConnection();
      await pc.setRemoteDescription({ type: 'offer', sdp: offer.sdp as string });
      await pc.setLocalDescription(await pc.createAnswer());
      // The real answer with a section turned into a data channel: werift would run an SCTP
      // association for it (it does not compare an answer's kinds with its offer's).
      const sections = pc.localDescription!.sdp.split(/\r\n(?=m=)/);
      const video = sections.findIndex((section) => section.startsWith('m=video'));
      assert.ok(video > 0, 'the offer has a video section');
      sections[video] = sections[video]!.replace(
        /^m=video [^\r]*/,
        'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
      );
      client.send({ type: 'answer', sdp: sections.join('\r\n') });
      const swapped = await client.next('error');
      assert.equal(swapped.code, 'InvalidArgument', JSON.stringify(swapped));
      assert.match(
        String(swapped.message),
        new RegExp(`media section ${video} is application, the offer's video`),
      );
      // The offer still waits for its answer: a browser's real one is taken.
      client.send({ type: 'answer', sdp: pc.localDescription!.sdp });
      client.send({ type: 'ping' });
      await client.next('pong');
      assert.equal(
        client.messages.filter((m) => m.type === 'error').length,
        0,
        JSON.stringify(client.messages),
      );
      await pc.close();
    } finally {
      client.socket.close();
      await sender.close();
    }
  });

  it('caps streams per connection, sends mute events only on change, and limits mute floods', async () => {
    const client = await guest(ctx, await token(), roomId);
    const ids: string[] = [];
    for (let i = 0; i < SIGNALING_LIMITS.streamsPerConnection; i++) {
      client.send({ type: 'publish', audio: true, video: false, requestId: `p${i}` });
      ids.push(((await client.next('published')).stream as { id: string }).id);
    }
    client.send({ type: 'publish', audio: true, video: false, requestId: 'one-too-many' });
    const refused = await client.next('error');
    assert.equal(refused.code, 'Conflict');
    const events = new WebSocket(`ws://127.0.0.1:${ctx.port}/api/events`);
    const updates: unknown[] = [];
    events.on('message', (raw) => {
      const message = JSON.parse(String(raw)) as {
        type: string;
        event?: { type: string; data: { id?: string; audioMuted?: boolean } };
      };
      if (message.event?.type === 'stream.updated' && message.event.data.id === ids[0])
        updates.push(message.event.data);
    });
    await new Promise<void>((resolve) => events.once('open', () => resolve()));
    events.send(JSON.stringify({ type: 'auth', token: auth.authorization!.slice(7) }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (let i = 0; i < 30; i++) client.send({ type: 'mute', streamId: ids[0], audio: true });
    const limited = await client.next('error');
    assert.equal(limited.code, 'RateLimited');
    client.send({ type: 'ping' });
    await client.next('pong');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(updates.length, 1, 'one event for one change, none for repeats');
    events.close();
    client.socket.close();
  });

  it(
    "closes a flooding guest and an oversized message (1009) while /health keeps answering and another room's media keeps flowing",
    { timeout: 90_000 },
    async () => {
      // Another room with a publisher: its stream's received bitrate, about once a second.
      const other = (
        await json<{ id: string }>(`${ctx.url}/api/rooms`, {
          method: 'POST',
          headers: auth,
          body: { name: 'b' },
        })
      ).body.id;
      const otherToken = (
        await json<{ token: string; whipUrl: string }>(`${ctx.url}/api/rooms/${other}/tokens`, {
          method: 'POST',
          headers: auth,
          body: {},
        })
      ).body;
      const bitrates: Array<{ at: number; kbps: number }> = [];
      const onEvent = (event: AnyStudioEvent) => {
        if (event.type === 'health.streams' && event.data.roomId === other && event.data.streams[0])
          bitrates.push({ at: Date.now(), kbps: event.data.streams[0].bitrateKbps });
      };
      ctx.studio.bus.on('event', onEvent);
      const publisher = await SyntheticPublisher.start({
        whipUrl: otherToken.whipUrl,
        token: otherToken.token,
        clip: makeClip({ durationSec: 10, videoKbps: 300 }),
        loop: true,
      });
      try {
        await waitFor(() => bitrates.some((b) => b.kbps > 50), 20_000, "the other room's media");
        await flood();
        // Media of the other room was received during and after the floods.
        const since = Date.now();
        await waitFor(
          () => bitrates.filter((b) => b.at > since && b.kbps > 50).length >= 2,
          10_000,
          "the other room's media after the floods",
        );
      } finally {
        ctx.studio.bus.off('event', onEvent);
        await publisher.stop();
      }
    },
  );

  async function flood(): Promise<void> {
    // A guest flooding the socket, then one sending an oversized message.
    const before = { ...signalingCounters, ...signalingSocketCounters };
    const flooder = await guest(ctx, await token(), roomId);
    const started = Date.now();
    for (let i = 0; i < SIGNALING_LIMITS.messagesPerSec * 6; i++) flooder.send({ type: 'ping' });
    const health = await fetch(`${ctx.url}/health`);
    assert.equal(health.status, 200);
    const healthMs = Date.now() - started;
    assert.equal(await flooder.closed, 1000);
    assert.ok(signalingCounters.closedForFlooding > before.closedForFlooding);
    assert.ok(flooder.messages.some((m) => m.code === 'RateLimited'));

    const big = await guest(ctx, await token(), roomId);
    big.socket.send('x'.repeat(1024 * 1024 + 10));
    assert.equal(await big.closed, 1009);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.ok(signalingSocketCounters.oversized > before.oversized, 'the 1009 close is counted');
    assert.equal((await fetch(`${ctx.url}/health`)).status, 200);
    process.stdout.write(`${JSON.stringify({ bench: 'signaling-flood', healthMs })}\n`);
  }

  it('lets a moderator start a recording only with allowlisted options', async () => {
    const moderator = await guest(ctx, await token(), roomId);
    moderator.send({ type: 'startRecording', requestId: 'r', options: { name: 'x', expireTime: 1 } });
    const refused = await moderator.next('error');
    assert.equal(refused.code, 'InvalidArgument');
    assert.equal(refused.field, 'options.expireTime');
    moderator.socket.close();
  });
});
