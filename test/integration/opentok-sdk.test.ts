import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { startHeadless, TEST_CREDENTIALS, type HeadlessCore } from '../helpers/headless';
import { makeClip, SyntheticPublisher } from '../helpers/publisher';
import { OperatorClient, waitFor } from '../helpers/studio';
import { tempDir } from '../helpers/tmp';

const require = createRequire(import.meta.url);

/** The parts of the official `opentok` SDK used here (it ships no types). */
interface OpenTokArchive {
  id: string;
  status: string;
  name: string | null;
  sessionId: string;
  outputMode: string;
  streamMode: string;
  hasAudio: boolean;
  hasVideo: boolean;
  createdAt: number;
  duration: number;
  size: number;
  url: string | null;
  reason: string;
}
type Callback<T> = (error: Error | null, value?: T, extra?: unknown) => void;
interface OpenTokSdk {
  createSession(options: Record<string, string>, cb: Callback<{ sessionId: string }>): void;
  startArchive(sessionId: string, options: Record<string, unknown>, cb: Callback<OpenTokArchive>): void;
  stopArchive(id: string, cb: Callback<OpenTokArchive>): void;
  getArchive(id: string, cb: Callback<OpenTokArchive>): void;
  listArchives(
    options: Record<string, unknown>,
    cb: (error: Error | null, items?: OpenTokArchive[], total?: number) => void,
  ): void;
  deleteArchive(id: string, cb: Callback<void>): void;
  setArchiveLayout(
    id: string,
    type: string,
    stylesheet: string | null,
    screenshareType: string | null,
    cb: Callback<void>,
  ): void;
  addArchiveStream(id: string, streamId: string, options: Record<string, boolean>, cb: Callback<void>): void;
  removeArchiveStream(id: string, streamId: string, cb: Callback<void>): void;
}

describe('the official opentok SDK against the studio', () => {
  let dir: ReturnType<typeof tempDir>;
  let core: HeadlessCore;
  let sdk: OpenTokSdk;
  let operator: OperatorClient;
  before(async () => {
    dir = tempDir();
    core = await startHeadless({ dataDir: dir.path, env: { SPOOL_SESSION_GRACE_SEC: '30' } });
    operator = await OperatorClient.login(core);
    const OpenTok = require('opentok') as new (
      key: string,
      secret: string,
      env: { apiUrl: string },
    ) => OpenTokSdk;
    sdk = new OpenTok(TEST_CREDENTIALS.SPOOL_API_KEY, TEST_CREDENTIALS.SPOOL_API_SECRET, {
      apiUrl: core.url,
    });
  });
  after(async () => {
    await core?.stop();
    dir.remove();
  });

  it('runs every archive method successfully', async () => {
    const session = await promisify<Record<string, string>, { sessionId: string }>((o, cb) =>
      sdk.createSession(o, cb as Callback<{ sessionId: string }>),
    )({
      mediaMode: 'routed',
    });
    assert.match(session.sessionId, /^[0-9a-f-]{36}$/);
    const room = await operator.room(session.sessionId);
    assert.equal(room.id, session.sessionId);

    const token = await operator.createToken(session.sessionId, { connectionData: 'SDK test' });
    const publisher = await SyntheticPublisher.start({
      whipUrl: token.whipUrl,
      token: token.token,
      clip: makeClip({ durationSec: 30 }),
      loop: true,
    });
    try {
      const stream = await waitFor(
        async () => (await operator.room(session.sessionId)).session?.streams[0],
        10_000,
        'the stream',
      );
      const start = promisify<string, Record<string, unknown>, OpenTokArchive>((s, o, cb) =>
        sdk.startArchive(s, o, cb as Callback<OpenTokArchive>),
      );
      const archive = await start(session.sessionId, { name: 'SDK archive', outputMode: 'individual' });
      assert.equal(archive.status, 'started');
      assert.equal(archive.name, 'SDK archive');

      const manual = await start(session.sessionId, {
        outputMode: 'composed',
        streamMode: 'manual',
        multiArchiveTag: 'manual',
        layout: { type: 'pip' },
      });
      const add = promisify<string, string, Record<string, boolean>, void>((id, s, o, cb) =>
        sdk.addArchiveStream(id, s, o, cb as Callback<void>),
      );
      await add(manual.id, stream.id, { hasAudio: true, hasVideo: true });
      const remove = promisify<string, string, void>((id, s, cb) =>
        sdk.removeArchiveStream(id, s, cb as Callback<void>),
      );
      await remove(manual.id, stream.id);
      const layout = promisify<string, string, string | null, string | null, void>((id, t, ss, st, cb) =>
        sdk.setArchiveLayout(id, t, ss, st, cb as Callback<void>),
      );
      await layout(manual.id, 'bestFit', null, 'verticalPresentation');
      await assert.rejects(layout(manual.id, 'nonsense', null, null));

      const get = promisify<string, OpenTokArchive>((id, cb) =>
        sdk.getArchive(id, cb as Callback<OpenTokArchive>),
      );
      const fetched = await get(archive.id);
      assert.equal(fetched.id, archive.id);
      assert.equal(fetched.sessionId, session.sessionId);

      const list = await new Promise<{ items: OpenTokArchive[]; total: number }>((resolve, reject) =>
        sdk.listArchives({ sessionId: session.sessionId }, (error, items, total) =>
          error ? reject(error) : resolve({ items: items!, total: total! }),
        ),
      );
      assert.equal(list.total, 2);
      assert.deepEqual(list.items.map((a) => a.id).sort(), [archive.id, manual.id].sort());

      await new Promise((resolve) => setTimeout(resolve, 2000));
      const stop = promisify<string, OpenTokArchive>((id, cb) =>
        sdk.stopArchive(id, cb as Callback<OpenTokArchive>),
      );
      const stopped = await stop(archive.id);
      assert.equal(stopped.status, 'stopped');
      await stop(manual.id);
      await assert.rejects(stop(archive.id), /not recording|Unknown archive error|is not recording/);

      const available = await get(archive.id);
      assert.equal(available.status, 'available');
      assert.ok(available.duration >= 1);
      assert.ok(available.size > 0);

      const del = promisify<string, void>((id, cb) => sdk.deleteArchive(id, cb as Callback<void>));
      await del(archive.id);
      await assert.rejects(get(archive.id));
    } finally {
      await publisher.stop();
    }
  });
});
