import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ArchiveSummary } from '../../src/shared/archive';
import { startHeadless, type HeadlessCore } from '../helpers/headless';
import { probe } from '../helpers/probe';
import { makeClip, SyntheticPublisher } from '../helpers/publisher';
import { ArchiveApi, OperatorClient, waitFor } from '../helpers/studio';
import { tempDir } from '../helpers/tmp';

describe('findable recordings', () => {
  let dir: ReturnType<typeof tempDir>;
  let core: HeadlessCore;
  let operator: OperatorClient;
  let api: ArchiveApi;
  let archiveId: string;
  before(async () => {
    dir = tempDir();
    core = await startHeadless({ dataDir: dir.path });
    operator = await OperatorClient.login(core);
    api = new ArchiveApi(core.url);
    // One archive of two named guests, recorded for a few seconds.
    const room = await operator.createRoom({ name: 'Findable' });
    const publishers: SyntheticPublisher[] = [];
    for (const name of ['Ada Lovelace', 'Grace Hopper']) {
      const token = await operator.createToken(room.id, { connectionData: name });
      publishers.push(
        await SyntheticPublisher.start({
          whipUrl: token.whipUrl,
          token: token.token,
          clip: makeClip({ durationSec: 10 }),
          loop: true,
        }),
      );
    }
    try {
      await waitFor(
        async () => ((await operator.room(room.id)).session?.streams.length ?? 0) === 2 || undefined,
        15_000,
        'two streams',
      );
      const archive = await api.start({ sessionId: room.id, outputMode: 'individual' });
      archiveId = archive.id;
      // A few seconds of media to take a poster from.
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await api.stop(archiveId);
      await api.waitStatus(archiveId, 'available', 20_000);
    } finally {
      for (const p of publishers) await p.stop();
    }
  });
  after(async () => {
    await core?.stop();
    dir.remove();
  });

  it('a poster frame exists beside the files of an available archive and is served to the operator', async () => {
    const file = join(dir.path, 'archives', archiveId, 'poster.jpg');
    await waitFor(() => existsSync(file), 20_000, 'poster.jpg beside the files');
    const response = await fetch(`${core.url}/api/archives/${archiveId}/poster`, {
      headers: { authorization: `Bearer ${operator.token}` },
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'image/jpeg');
    const body = Buffer.from(await response.arrayBuffer());
    assert.deepEqual([...body.subarray(0, 3)], [0xff, 0xd8, 0xff], 'a JPEG');
    const info = await probe(file);
    const video = info.streams.find((s) => s.codec_type === 'video');
    assert.equal(video?.width, 320);
    assert.equal(video?.height, 180);
  });

  it('the poster is refused without credentials or with wrong ones', async () => {
    const url = `${core.url}/api/archives/${archiveId}/poster`;
    assert.equal((await fetch(url)).status, 401);
    const wrong = await fetch(url, { headers: { authorization: 'Bearer not-a-token' } });
    assert.ok([401, 403].includes(wrong.status), `status ${wrong.status}`);
    const files = await fetch(`${core.url}/files/${archiveId}/poster.jpg`);
    assert.equal(files.status, 401, 'the file server wants its Basic credentials too');
  });

  it('an unknown or malformed archive has no poster', async () => {
    const get = (id: string) =>
      fetch(`${core.url}/api/archives/${id}/poster`, {
        headers: { authorization: `Bearer ${operator.token}` },
      });
    assert.equal((await get('00000000-0000-0000-0000-000000000000')).status, 404);
    assert.equal((await get('..%2F..%2Fstudio.db')).status, 404);
  });

  it('the summary names the participants and the delivery state', async () => {
    const { items } = await operator.ok<{ items: ArchiveSummary[] }>(
      'GET',
      `/api/archives/summaries?ids=${archiveId}`,
    );
    assert.equal(items.length, 1);
    assert.deepEqual([...items[0]!.participants].sort(), ['Ada Lovelace', 'Grace Hopper']);
    assert.equal(items[0]!.poster, true);
    assert.deepEqual(items[0]!.deliveries, { total: 0, succeeded: 0, failed: 0, pending: 0 });
    const all = await operator.ok<{ items: ArchiveSummary[] }>('GET', '/api/archives/summaries');
    assert.ok(all.items.some((s) => s.id === archiveId));
    const bad = await operator.request('GET', '/api/archives/summaries?ids=nope');
    assert.equal(bad.status, 400);
  });
});
