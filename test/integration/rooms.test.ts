import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import type { RoomJson } from '../../src/shared/rooms';
import { projectJwt } from '../helpers/api';
import { makeClip, SyntheticPublisher } from '../helpers/publisher';
import { waitFor } from '../helpers/studio';
import { useCore } from '../helpers/useCore';

describe('rooms API', () => {
  const ctx = useCore({ SPOOL_SESSION_GRACE_SEC: '1' });

  it('creates a room with defaults, lists, gets, updates and deletes it', async () => {
    const created = await ctx.operator.request<RoomJson>('POST', '/api/rooms', { name: 'Morning show' });
    assert.equal(created.status, 201);
    const room = created.body;
    assert.match(room.id, /^[0-9a-f-]{36}$/);
    assert.equal(room.autoRecord, false);
    assert.equal(room.maxParticipants, 16);
    assert.equal(room.recording.outputMode, 'individual');
    assert.equal(room.recording.format, 'webm');
    assert.equal(room.session, null);

    const list = await ctx.operator.ok<{ items: RoomJson[] }>('GET', '/api/rooms');
    assert.ok(list.items.some((r) => r.id === room.id));

    const updated = await ctx.operator.ok<RoomJson>('PATCH', `/api/rooms/${room.id}`, {
      autoRecord: true,
      recording: { format: 'mp4', splitDuration: 60 },
    });
    assert.equal(updated.autoRecord, true);
    assert.equal(updated.name, 'Morning show');
    assert.equal(updated.recording.format, 'mp4');
    assert.equal(updated.recording.splitDuration, 60);
    assert.equal(updated.recording.outputMode, 'individual');

    const removed = await ctx.operator.request('DELETE', `/api/rooms/${room.id}`);
    assert.equal(removed.status, 204);
    const gone = await ctx.operator.request<{ code: string }>('GET', `/api/rooms/${room.id}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.code, 'NotFound');
  });

  it('works with the OpenTok project JWT too', async () => {
    const response = await fetch(`${ctx.core.url}/api/rooms`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-opentok-auth': await projectJwt() },
      body: JSON.stringify({ name: 'From a script' }),
    });
    assert.equal(response.status, 201);
  });

  it('refuses bad room settings with the field named', async () => {
    const cases: Array<[unknown, string]> = [
      [{}, 'name'],
      [{ name: '' }, 'name'],
      [{ name: 'x'.repeat(101) }, 'name'],
      [{ name: 'ok', maxParticipants: 0 }, 'maxParticipants'],
      [{ name: 'ok', preferredVideoCodec: 'MPEG2' }, 'preferredVideoCodec'],
      [{ name: 'ok', recording: { format: 'avi' } }, 'recording.format'],
      [{ name: 'ok', recording: { resolution: '1281x720' } }, 'recording.resolution'],
      [{ name: 'ok', recording: { splitDuration: 1 } }, 'recording.splitDuration'],
      [{ name: 'ok', colour: 'red' }, ''],
    ];
    for (const [body, field] of cases) {
      const response = await ctx.operator.request<{ code: string; message: string; field?: string }>(
        'POST',
        '/api/rooms',
        body,
      );
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.equal(response.body.code, 'InvalidArgument');
      if (field !== '') assert.equal(response.body.field, field, JSON.stringify(body));
      else assert.match(response.body.message, /colour/);
    }
  });

  it('makes signed join tokens with role, expiry, connection data and recording block', async () => {
    const room = await ctx.operator.createRoom();
    const token = await ctx.operator.createToken(room.id, {
      role: 'moderator',
      expiresInSec: 600,
      connectionData: 'Host',
      recordingBlock: true,
    });
    assert.equal(token.role, 'moderator');
    assert.ok(Math.abs(token.expiresAt - (Date.now() + 600_000)) < 5000);
    assert.equal(token.joinUrl, `${ctx.core.url}/join/${room.id}?t=${encodeURIComponent(token.token)}`);
    assert.equal(token.whipUrl, `${ctx.core.url}/whip/${room.id}`);
    const claims = decodeJwt(token.token);
    assert.equal(claims.sub, room.id);
    assert.equal(claims.role, 'moderator');
    assert.equal(claims.cd, 'Host');
    assert.equal(claims.rb, true);
    const bad = await ctx.operator.request<{ field: string }>('POST', `/api/rooms/${room.id}/tokens`, {
      role: 'admin',
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'role');
    const missing = await ctx.operator.request('POST', '/api/rooms/nope/tokens', {});
    assert.equal(missing.status, 404);
  });

  it('shows the live session with connections and streams, and refuses to delete a live room', async () => {
    const room = await ctx.operator.createRoom();
    const token = await ctx.operator.createToken(room.id, { connectionData: 'Encoder' });
    const publisher = await SyntheticPublisher.start({
      whipUrl: token.whipUrl,
      token: token.token,
      clip: makeClip({ durationSec: 10 }),
      loop: true,
    });
    try {
      const live = await waitFor(
        async () => {
          const r = await ctx.operator.room(room.id);
          return r.session?.streams[0]?.codecs.video ? r : undefined;
        },
        10_000,
        'the live stream',
      );
      assert.equal(live.session!.connections[0]!.connectionData, 'Encoder');
      assert.equal(live.session!.streams[0]!.videoType, 'camera');
      const refused = await ctx.operator.request<{ code: string; message: string }>(
        'DELETE',
        `/api/rooms/${room.id}`,
      );
      assert.equal(refused.status, 409);
      assert.equal(refused.body.code, 'Conflict');
      assert.match(refused.body.message, /1 participant/);
    } finally {
      await publisher.stop();
    }
    // The session ends after the grace period; then the room can go.
    await waitFor(
      async () => (await ctx.operator.room(room.id)).session === null,
      5000,
      'the session to end',
    );
    assert.equal((await ctx.operator.request('DELETE', `/api/rooms/${room.id}`)).status, 204);
  });
});
