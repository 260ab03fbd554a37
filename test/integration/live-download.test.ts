import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startHeadless, TEST_CREDENTIALS, type HeadlessCore } from '../helpers/headless';
import { decodeErrors, probe } from '../helpers/probe';
import { makeClip, type SyntheticPublisher } from '../helpers/publisher';
import { startPublisher } from '../helpers/recordingChecks';
import { ArchiveApi, OperatorClient, waitFor } from '../helpers/studio';
import { tempDir } from '../helpers/tmp';

const AUTH = `Basic ${Buffer.from(`${TEST_CREDENTIALS.SPOOL_FILES_USER}:${TEST_CREDENTIALS.SPOOL_FILES_PASSWORD}`).toString('base64')}`;

describe('files readable while recording', () => {
  it(
    'a download taken during recording decodes cleanly, whole or by Range, up to the last whole cluster',
    { timeout: 120_000 },
    async () => {
      const dir = tempDir();
      const out = tempDir('spool-download-');
      let core: HeadlessCore | null = null;
      let publisher: SyntheticPublisher | null = null;
      try {
        core = await startHeadless({ dataDir: dir.path, env: { SPOOL_KEYFRAME_INTERVAL_SEC: '1' } });
        const operator = await OperatorClient.login(core);
        const api = new ArchiveApi(core.url);
        const room = await operator.createRoom({ name: 'Live download' });
        const token = await operator.createToken(room.id);
        publisher = await startPublisher({
          whipUrl: token.whipUrl,
          token: token.token,
          clip: makeClip({ durationSec: 20 }),
          loop: true,
        });
        await waitFor(
          async () => (await operator.room(room.id)).session?.streams[0]?.codecs.video,
          15_000,
          'the stream',
        );
        const archive = await api.start({ sessionId: room.id, outputMode: 'individual' });
        const files = await waitFor(
          async () => {
            const list = await operator.ok<{ items: Array<{ filename: string; kind: string }> }>(
              'GET',
              `/api/archives/${archive.id}/files`,
            );
            return list.items.some((f) => f.kind === 'media') ? list.items : undefined;
          },
          15_000,
          'the file to start',
        );
        const filename = files.find((f) => f.kind === 'media')!.filename;
        await new Promise((resolve) => setTimeout(resolve, 4000));
        const url = `${core.url}/files/${archive.id}/${filename}`;

        // Whole file, while it grows: a whole number of clusters.
        const whole = await fetch(url, { headers: { authorization: AUTH } });
        assert.equal(whole.status, 200);
        const body = Buffer.from(await whole.arrayBuffer());
        assert.equal(Number(whole.headers.get('content-length')), body.length);
        const path = join(out.path, 'whole.webm');
        writeFileSync(path, body);
        assert.equal(await decodeErrors(path), '');
        assert.ok((await probe(path)).streams.length === 2);

        // A Range from the start, as a player asks: the same bytes, the total is what is readable.
        const ranged = await fetch(url, { headers: { authorization: AUTH, range: 'bytes=0-' } });
        assert.equal(ranged.status, 206);
        const total = Number(/\/(\d+)$/.exec(ranged.headers.get('content-range') ?? '')?.[1]);
        const part = Buffer.from(await ranged.arrayBuffer());
        assert.equal(part.length, total);
        assert.ok(total >= body.length, `the file shrank: ${total} < ${body.length}`);
        assert.deepEqual(part.subarray(0, body.length), body);
        const rangedPath = join(out.path, 'ranged.webm');
        writeFileSync(rangedPath, part);
        assert.equal(await decodeErrors(rangedPath), '');
        // A range past what is readable is refused with the readable size.
        const beyond = await fetch(url, {
          headers: { authorization: AUTH, range: `bytes=${total + 10_000_000}-` },
        });
        assert.equal(beyond.status, 416);

        await api.stop(archive.id);
      } finally {
        await publisher?.close();
        await core?.stop();
        dir.remove();
        out.remove();
      }
    },
  );
});
