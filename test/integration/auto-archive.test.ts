import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import type { ArchiveJson } from '../../src/shared/archive';
import type { AnyStudioEvent } from '../../src/shared/events';
import { projectJwt } from '../helpers/api';
import { startHeadless, TEST_CREDENTIALS, type HeadlessCore } from '../helpers/headless';
import { makeClip, SyntheticPublisher } from '../helpers/publisher';
import { OperatorClient, waitFor } from '../helpers/studio';
import { tempDir } from '../helpers/tmp';

describe('automatic archives and archive events', () => {
  let dir: ReturnType<typeof tempDir>;
  let core: HeadlessCore;
  let operator: OperatorClient;
  const events: AnyStudioEvent[] = [];
  let socket: WebSocket;
  before(async () => {
    dir = tempDir();
    core = await startHeadless({
      dataDir: dir.path,
      env: {
        SPOOL_MAX_DURATION_SEC: '6',
        SPOOL_AUTO_ARCHIVE_OVERLAP_SEC: '2',
        SPOOL_SESSION_GRACE_SEC: '1',
        SPOOL_AUTO_ARCHIVE_STOP_SEC: '1',
      },
    });
    operator = await OperatorClient.login(core);
    socket = new WebSocket(`${core.url.replace('http', 'ws')}/api/events`);
    await new Promise((resolve) => socket.once('open', resolve));
    socket.on('message', (raw) => {
      const message = JSON.parse(String(raw)) as { type: string; event?: AnyStudioEvent };
      if (message.event) events.push(message.event);
    });
    socket.send(JSON.stringify({ type: 'auth', token: operator.token }));
  });
  after(async () => {
    socket?.close();
    await core?.stop();
    dir.remove();
  });

  it('records an autoRecord room from the first join, rolls over with overlap, and stops when the session ends', async () => {
    const room = await operator.createRoom({
      name: 'Always on',
      autoRecord: true,
      recording: { outputMode: 'individual' },
    });
    const token = await operator.createToken(room.id);
    const publisher = await SyntheticPublisher.start({
      whipUrl: token.whipUrl,
      token: token.token,
      clip: makeClip({ durationSec: 30 }),
      loop: true,
    });
    const list = async () => {
      const response = await fetch(
        `${core.url}/v2/project/${TEST_CREDENTIALS.SPOOL_API_KEY}/archive?sessionId=${room.id}`,
        {
          headers: { 'x-opentok-auth': await projectJwt() },
        },
      );
      return ((await response.json()) as { count: number; items: ArchiveJson[] }).items;
    };
    const first = await waitFor(async () => (await list())[0], 5000, 'the automatic archive');
    assert.equal(first.status, 'started');
    // Stopping an automatic archive by API is refused, as OpenTok does.
    const refused = await fetch(
      `${core.url}/v2/project/${TEST_CREDENTIALS.SPOOL_API_KEY}/archive/${first.id}/stop`,
      {
        method: 'POST',
        headers: { 'x-opentok-auth': await projectJwt() },
      },
    );
    assert.equal(refused.status, 409);
    const both = await waitFor(
      async () => {
        const items = await list();
        return items.length >= 2 ? items : undefined;
      },
      10_000,
      'the rollover archive',
    );
    const [second, firstAgain] = both as [ArchiveJson, ArchiveJson];
    assert.ok(second.createdAt > firstAgain.createdAt);
    const done = await waitFor(
      async () => {
        const a = (await list()).find((x) => x.id === first.id);
        return a?.status === 'available' ? a : undefined;
      },
      8000,
      'the first archive to finish',
    );
    assert.equal(done.reason, 'maximum duration exceeded');
    // The successor started before the first one stopped: overlap, so nothing is missed.
    assert.ok(second.createdAt < first.createdAt + done.duration * 1000 + 1000);
    await publisher.stop();
    const ended = await waitFor(
      async () => {
        const a = (await list()).find((x) => x.id === second.id);
        return a?.status === 'available' ? a : undefined;
      },
      8000,
      'the second archive to end with the session',
    );
    assert.equal(ended.reason, 'session ended');
  });

  it('publishes every status change with OpenTok callback fields', async () => {
    const room = await operator.createRoom();
    const token = await operator.createToken(room.id);
    const publisher = await SyntheticPublisher.start({
      whipUrl: token.whipUrl,
      token: token.token,
      clip: makeClip({ durationSec: 30 }),
      loop: true,
    });
    await waitFor(
      async () => (await operator.room(room.id)).session?.streams[0]?.codecs.video,
      10_000,
      'the stream',
    );
    const base = `${core.url}/v2/project/${TEST_CREDENTIALS.SPOOL_API_KEY}/archive`;
    const headers = { 'x-opentok-auth': await projectJwt(), 'content-type': 'application/json' };
    const archive = (await (
      await fetch(base, {
        method: 'POST',
        headers,
        body: JSON.stringify({ sessionId: room.id, outputMode: 'individual', name: 'evented' }),
      })
    ).json()) as ArchiveJson;
    // Stopped once the stream's file holds media (a loaded machine can take longer than a
    // fixed wait to deliver the first keyframe), and not before 1.5 s.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await waitFor(
      () =>
        readdirSync(join(dir.path, 'archives', archive.id)).some(
          (f) => /\.webm$/.test(f) && statSync(join(dir.path, 'archives', archive.id, f)).size > 1000,
        ),
      15_000,
      'the stream file to hold media',
    );
    await fetch(`${base}/${archive.id}/stop`, { method: 'POST', headers, body: '{}' });
    await publisher.stop();
    const mine = await waitFor(
      () => {
        const list = events.filter((e) => e.archiveId === archive.id && e.seq > 0);
        return list.some((e) => e.type === 'archive.available') ? list : undefined;
      },
      5000,
      'archive events',
    );
    // The stream's file is announced once final, before the archive's `stopped`.
    assert.deepEqual(
      mine.map((e) => e.type),
      ['archive.started', 'archive.file.available', 'archive.stopped', 'archive.available'],
    );
    const statuses = mine.filter((e) => e.type !== 'archive.file.available');
    for (const event of statuses) {
      const data = event.data as ArchiveJson;
      for (const field of [
        'id',
        'event',
        'createdAt',
        'duration',
        'name',
        'reason',
        'resolution',
        'sessionId',
        'size',
        'status',
        'streamMode',
        'streams',
        'url',
      ]) {
        assert.ok(field in data, `${event.type} carries ${field}`);
      }
      assert.equal(data.event, 'archive');
      assert.equal(data.name, 'evented');
    }
    const available = mine.at(-1)!.data as ArchiveJson;
    assert.ok(available.size > 0);
    assert.equal(available.url, `${core.url}/files/${archive.id}/archive.zip`);
    assert.equal((statuses[1]!.data as ArchiveJson).reason, 'user initiated');
  });
});
