import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { ArchiveJson, Manifest } from '../../src/shared/archive';
import { projectJwt } from '../helpers/api';
import { startHeadless, TEST_CREDENTIALS } from '../helpers/headless';
import { decodeErrors, probe } from '../helpers/probe';
import { makeClip, SyntheticPublisher } from '../helpers/publisher';
import { filesLargerThan, OperatorClient, waitFor } from '../helpers/studio';
import { tempDir } from '../helpers/tmp';

describe('crash recovery', () => {
  it('recovers an archive after SIGKILL 10 s into a recording: the file plays with at least 8 s', async () => {
    const dir = tempDir();
    let core = await startHeadless({ dataDir: dir.path });
    let publisher: SyntheticPublisher | null = null;
    try {
      const operator = await OperatorClient.login(core);
      const room = await operator.createRoom({ name: 'Crash' });
      const token = await operator.createToken(room.id);
      publisher = await SyntheticPublisher.start({
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
      const headers = { 'x-opentok-auth': await projectJwt(), 'content-type': 'application/json' };
      const base = `${core.url}/v2/project/${TEST_CREDENTIALS.SPOOL_API_KEY}/archive`;
      const started = (await (
        await fetch(base, {
          method: 'POST',
          headers,
          body: JSON.stringify({ sessionId: room.id, outputMode: 'individual' }),
        })
      ).json()) as ArchiveJson;
      assert.equal(started.status, 'started');
      // Ten seconds counted from the stream's first media on disk (its first keyframe can come a
      // second or more after the start on a busy machine): that much is what the kill risks.
      const archiveDir = join(dir.path, 'archives', started.id);
      await waitFor(
        () => filesLargerThan(archiveDir, 50_000).some((name) => name.endsWith('.webm')),
        15_000,
        "the stream's first media on disk",
      );
      await new Promise((resolve) => setTimeout(resolve, 10_000));
      await core.kill();
      await publisher.close();
      publisher = null;

      core = await startHeadless({ dataDir: dir.path });
      const restarted = `${core.url}/v2/project/${TEST_CREDENTIALS.SPOOL_API_KEY}/archive`;
      const archive = (await (
        await fetch(`${restarted}/${started.id}`, { headers: { 'x-opentok-auth': await projectJwt() } })
      ).json()) as ArchiveJson;
      assert.equal(archive.status, 'available');
      assert.equal(archive.reason, 'failure');
      assert.ok(archive.duration >= 8, `duration ${archive.duration}`);
      const manifest = JSON.parse(
        readFileSync(join(dir.path, 'archives', started.id, 'manifest.json'), 'utf8'),
      ) as Manifest;
      assert.equal(manifest.files.length, 1);
      const file = join(dir.path, 'archives', started.id, manifest.files[0]!.filename);
      const info = await probe(file);
      assert.ok(info.duration >= 8, `recovered ${info.duration} s`);
      assert.equal(await decodeErrors(file), '');
      assert.ok(manifest.files[0]!.stopTimeOffset - manifest.files[0]!.startTimeOffset >= 8000);
    } finally {
      await publisher?.close();
      await core.stop();
      dir.remove();
    }
  });
});
