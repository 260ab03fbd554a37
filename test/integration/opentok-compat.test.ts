import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { WebSocket } from 'ws';
import type { ArchiveJson, Manifest } from '../../src/shared/archive';
import type { AnyStudioEvent } from '../../src/shared/events';
import type { ArchiveFileEvent } from '../../src/shared/events/archives';
import { json, projectJwt } from '../helpers/api';
import { startHeadless, TEST_CREDENTIALS, type HeadlessCore } from '../helpers/headless';
import { makeClip, SyntheticPublisher } from '../helpers/publisher';
import { Webhook } from 'standardwebhooks';
import { probe } from '../helpers/probe';
import { createWebhookReceiver } from '../helpers/servers/webhookReceiver';
import { ArchiveApi, OperatorClient, waitFor } from '../helpers/studio';
import { tempDir } from '../helpers/tmp';

const require = createRequire(import.meta.url);
const KEY = TEST_CREDENTIALS.SPOOL_API_KEY;
const SECRET = TEST_CREDENTIALS.SPOOL_API_SECRET;

type Callback<T> = (error: Error | null, value?: T) => void;
interface SdkStream {
  id: string;
  videoType: string;
  name: string;
  layoutClassList: string[];
}
interface OpenTokSdk {
  createSession(options: Record<string, string>, cb: Callback<{ sessionId: string }>): void;
  listStreams(sessionId: string, cb: Callback<SdkStream[]>): void;
  getStream(sessionId: string, streamId: string, cb: Callback<SdkStream>): void;
  setStreamClassLists(
    sessionId: string,
    items: Array<{ id: string; layoutClassList: string[] }>,
    cb: Callback<unknown>,
  ): void;
}

/** A raw request as the 2013 reference's curl examples send it (X-TB-PARTNER-AUTH). */
async function partner(
  base: string,
  method: string,
  path: string,
  data?: string,
  secret = SECRET,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${base}/v2/partner/${KEY}/archive${path}`, {
    method,
    headers: {
      'X-TB-PARTNER-AUTH': `${KEY}:${secret}`,
      ...(data !== undefined ? { 'Content-Type': 'application/json' } : {}),
    },
    ...(data !== undefined ? { body: data } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

describe('drop-in for OpenTok and Sora-style tools', () => {
  let dir: ReturnType<typeof tempDir>;
  let core: HeadlessCore;
  let operator: OperatorClient;
  let api: ArchiveApi;
  let sdk: OpenTokSdk;
  const events: AnyStudioEvent[] = [];
  let socket: WebSocket;
  const publishers: SyntheticPublisher[] = [];

  const publish = async (roomId: string, body: Record<string, unknown> = {}) => {
    const token = await operator.createToken(roomId, body);
    const publisher = await SyntheticPublisher.start({
      whipUrl: token.whipUrl,
      token: token.token,
      clip: makeClip({ durationSec: 30 }),
      loop: true,
    });
    publishers.push(publisher);
    const stream = await waitFor(
      async () =>
        (await operator.room(roomId)).session?.streams.find(
          (s) => s.connectionId === publisher.resourceUrl.split('/').at(-1) && s.codecs.video,
        ),
      10_000,
      'the stream',
    );
    return { publisher, stream };
  };

  before(async () => {
    dir = tempDir();
    core = await startHeadless({
      dataDir: dir.path,
      // Generous: the machine may be busy.
      timeoutMs: 60_000,
      env: {
        SPOOL_SESSION_GRACE_SEC: '1',
        SPOOL_AUTO_ARCHIVE_STOP_SEC: '3',
        SPOOL_ARCHIVE_NO_STREAM_TIMEOUT_SEC: '3',
        // The status callback receivers listen on 127.0.0.1 (the outbound guard allows it here).
        SPOOL_WEBHOOKS_ALLOW_PRIVATE_NETWORK: 'true',
      },
    });
    operator = await OperatorClient.login(core);
    api = new ArchiveApi(core.url);
    const OpenTok = require('opentok') as new (k: string, s: string, e: { apiUrl: string }) => OpenTokSdk;
    sdk = new OpenTok(KEY, SECRET, { apiUrl: core.url });
    socket = new WebSocket(`${core.url.replace('http', 'ws')}/api/events`);
    await new Promise((resolve) => socket.once('open', resolve));
    socket.on('message', (raw) => {
      const message = JSON.parse(String(raw)) as { event?: AnyStudioEvent };
      if (message.event) events.push(message.event);
    });
    socket.send(JSON.stringify({ type: 'auth', token: operator.token }));
  });
  after(async () => {
    for (const p of publishers) await p.stop().catch(() => {});
    socket?.close();
    await core?.stop();
    dir.remove();
  });

  it(
    'answers the 2013 archiving REST API with its bodies and status codes',
    { timeout: 120_000 },
    async () => {
      const room = await operator.createRoom({ name: '2013' });
      const { publisher } = await publish(room.id);
      // POST …/archive/ with the reference's data (trailing slash as in its curl example).
      const data = `{"sessionId": "${room.id}", "action": "start", "name": "Foo"}`;
      const started = await partner(core.url, 'POST', '/', data);
      assert.equal(started.status, 200, JSON.stringify(started.body));
      assert.equal(started.body.status, 'started');
      assert.equal(started.body.name, 'Foo');
      assert.equal(started.body.url, null);
      assert.equal(started.body.size, 0);
      assert.equal(started.body.duration, 0);
      assert.equal(started.body.sessionId, room.id);
      assert.equal(started.body.partnerId, Number(KEY));
      const id = started.body.id as string;

      assert.equal((await partner(core.url, 'POST', '', data)).status, 409, 'already being recorded');
      const noAction = await partner(core.url, 'POST', '', `{"sessionId": "${room.id}"}`);
      assert.equal(noAction.status, 400);
      assert.match(String(noAction.body.message), /action/);
      assert.equal(
        (await partner(core.url, 'POST', '', `{"sessionId": "${room.id}", "action": "Start"}`)).status,
        400,
        'action is case-sensitive',
      );
      assert.equal((await partner(core.url, 'GET', '', undefined, 'wrong')).status, 403, 'wrong secret');
      assert.equal(
        (await partner(core.url, 'GET', '/23435236235235235')).status,
        400,
        'GET of an invalid id',
      );
      assert.equal(
        (await partner(core.url, 'POST', `/${id}`, '{"action" : "start"}')).status,
        400,
        'stop needs action "stop"',
      );

      await new Promise((resolve) => setTimeout(resolve, 1500));
      const stopped = await partner(core.url, 'POST', `/${id}`, '{"action" : "stop"}');
      assert.equal(stopped.status, 200, JSON.stringify(stopped.body));
      assert.equal(stopped.body.status, 'stopped');
      assert.equal((await partner(core.url, 'POST', `/${id}`, '{"action" : "stop"}')).status, 409);
      assert.equal(
        (await partner(core.url, 'POST', '/b40ef09b-3811-4726-b508-e41a0f96c68f', '{"action" : "stop"}'))
          .status,
        404,
        'stop of an unknown archive',
      );

      const list = await partner(core.url, 'GET', '');
      assert.equal(list.status, 200);
      assert.ok((list.body.items as ArchiveJson[]).some((a) => a.id === id));
      const available = await waitFor(
        async () => {
          const got = await partner(core.url, 'GET', `/${id}`);
          return got.body.status === 'available' ? got.body : undefined;
        },
        90_000,
        'the composed MP4',
      );
      // The url of an available archive is a signed link to its MP4: no credentials, Range works.
      const url = String(available.url);
      assert.match(url, new RegExp(`^${core.url}/links/${id}/archive\\.mp4\\?expires=\\d+&signature=`));
      const head = await fetch(url, { headers: { range: 'bytes=4-7' } });
      assert.equal(head.status, 206);
      assert.equal(Buffer.from(await head.arrayBuffer()).toString(), 'ftyp');
      assert.equal(available.size, readFileSync(join(dir.path, 'archives', id, 'archive.mp4')).length);

      assert.equal(
        (await partner(core.url, 'DELETE', '/b40ef09b-3811-4726-b508-e41a0f96c68f')).status,
        403,
        'DELETE of an unknown archive',
      );
      assert.equal((await partner(core.url, 'DELETE', `/${id}`)).status, 204);
      assert.equal((await partner(core.url, 'GET', `/${id}`)).status, 400);
      await publisher.stop();
    },
  );

  it(
    'serves signed links with Range, and refuses altered or expired ones with a reason',
    { timeout: 60_000 },
    async () => {
      const room = await operator.createRoom({ name: 'Links' });
      const { publisher } = await publish(room.id);
      const archive = await api.start({ sessionId: room.id, outputMode: 'individual' });
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await api.stop(archive.id);
      await publisher.stop();
      await api.waitStatus(archive.id, 'available');
      const files = await operator.ok<{
        items: Array<{
          filename: string;
          kind: string;
          size: number;
          signedUrl: string;
          signedUrlExpiresAt: number;
        }>;
      }>('GET', `/api/archives/${archive.id}/files`);
      const media = files.items.find((f) => f.kind === 'media')!;
      assert.ok(media.signedUrlExpiresAt > Date.now() + 500_000, 'default lifetime 10 minutes');
      assert.ok(media.signedUrlExpiresAt <= Date.now() + 601_000);
      const ranged = await fetch(media.signedUrl, { headers: { range: 'bytes=0-3' } });
      assert.equal(ranged.status, 206);
      assert.deepEqual([...Buffer.from(await ranged.arrayBuffer())], [0x1a, 0x45, 0xdf, 0xa3], 'EBML header');
      // The Basic-auth file server is unchanged.
      assert.equal((await fetch(`${core.url}/files/${archive.id}/${media.filename}`)).status, 401);

      const altered = new URL(media.signedUrl);
      altered.searchParams.set('expires', String(Number(altered.searchParams.get('expires')) + 3600));
      const refused = await json<{ message: string }>(altered.toString());
      assert.equal(refused.status, 403);
      assert.match(refused.body.message, /signature does not match/);
      const otherFile = media.signedUrl.replace(media.filename, 'manifest.json');
      assert.equal((await fetch(otherFile)).status, 403, 'a link is for its own file only');
      assert.equal((await json(media.signedUrl.split('?')[0]!)).status, 403, 'no signature');

      await operator.ok('PATCH', '/api/settings', { signedLinkTtlSec: 1 });
      try {
        const short = await operator.ok<{ items: Array<{ kind: string; signedUrl: string }> }>(
          'GET',
          `/api/archives/${archive.id}/files`,
        );
        const link = short.items.find((f) => f.kind === 'media')!.signedUrl;
        await waitFor(async () => (await fetch(link)).status === 403, 5000, 'the link to expire');
        const expired = await json<{ message: string }>(link);
        assert.match(expired.body.message, /expired/);
      } finally {
        await operator.ok('PATCH', '/api/settings', { signedLinkTtlSec: 600 });
      }
      // Events carry no signed link.
      const availableEvent = events.find((e) => e.archiveId === archive.id && e.type === 'archive.available');
      assert.equal((availableEvent?.data as ArchiveJson).url, `${core.url}/files/${archive.id}/archive.zip`);
    },
  );

  it(
    'ignores unknown fields on OpenTok routes with a warning, stays strict on /api, and reads an empty JSON body as {}',
    { timeout: 60_000 },
    async () => {
      const room = await operator.createRoom({ name: 'Lenient' });
      const { publisher } = await publish(room.id);
      const started = await api.call<ArchiveJson>('POST', '/archive', {
        sessionId: room.id,
        outputMode: 'individual',
        hasTranscription: true,
        transcriptionProperties: { partialCaptions: true },
      });
      assert.equal(started.status, 200, JSON.stringify(started.body));
      await waitFor(
        () => /hasTranscription, transcriptionProperties/.test(core.output()),
        5000,
        'the warning',
      );
      // An empty body with Content-Type: application/json is {}.
      const stop = await fetch(`${core.url}/v2/project/${KEY}/archive/${started.body.id}/stop`, {
        method: 'POST',
        headers: { 'x-opentok-auth': await projectJwt(), 'content-type': 'application/json' },
        body: '',
      });
      assert.equal(stop.status, 200);
      const strict = await operator.request<{ message: string }>('POST', '/api/rooms', {
        name: 'x',
        hasTranscription: true,
      });
      assert.equal(strict.status, 400);
      assert.match(strict.body.message, /hasTranscription: is not a known field/);
      const empty = await json<{ message: string }>(`${core.url}/api/rooms`, {
        method: 'POST',
        headers: { authorization: `Bearer ${operator.token}`, 'content-type': 'application/json' },
        body: '',
      });
      assert.equal(empty.status, 400);
      assert.match(empty.body.message, /name/, 'an empty body is {}: the missing field is named');
      await publisher.stop();
    },
  );

  it(
    'lists, gets and classes streams through the official SDK; classes reach the manifest and metadata',
    { timeout: 60_000 },
    async () => {
      const room = await operator.createRoom({ name: 'Streams' });
      const { publisher, stream } = await publish(room.id);
      const listStreams = promisify<string, SdkStream[]>((s, cb) =>
        sdk.listStreams(s, cb as Callback<SdkStream[]>),
      );
      const getStream = promisify<string, string, SdkStream>((s, i, cb) =>
        sdk.getStream(s, i, cb as Callback<SdkStream>),
      );
      const setClasses = promisify<string, Array<{ id: string; layoutClassList: string[] }>, unknown>(
        (s, items, cb) => sdk.setStreamClassLists(s, items, cb as Callback<unknown>),
      );
      const listed = await listStreams(room.id);
      assert.deepEqual(
        listed.map((s) => ({ ...s })),
        [{ id: stream.id, videoType: 'camera', name: '', layoutClassList: [] }],
      );
      const archive = await api.start({ sessionId: room.id, outputMode: 'individual', splitDuration: 5 });
      await setClasses(room.id, [{ id: stream.id, layoutClassList: ['focus', 'speaker'] }]);
      const got = await getStream(room.id, stream.id);
      assert.equal(got.id, stream.id);
      assert.deepEqual(got.layoutClassList, ['focus', 'speaker']);
      await assert.rejects(getStream(room.id, 'b40ef09b-3811-4726-b508-e41a0f96c68f'));
      const unknown = await api.call<{ message: string }>('PUT', `/session/${room.id}/stream`, {
        items: [{ id: 'nope', layoutClassList: ['x'] }],
      });
      assert.equal(unknown.status, 404);
      assert.match(unknown.body.message, /stream nope/);

      // Split files are announced while recording; then the end of the splits.
      const firstSplit = await waitFor(
        () => events.find((e) => e.archiveId === archive.id && e.type === 'split-archive.available'),
        20_000,
        'the first split file',
      );
      const split = firstSplit.data as ArchiveFileEvent;
      assert.equal(split.splitIndex, 1);
      assert.equal(split.streamId, stream.id);
      assert.equal(split.connectionId, stream.connectionId);
      assert.match(split.filename, new RegExp(`^split/${stream.id}_0001\\.webm$`));
      assert.equal(split.path, `/files/${archive.id}/${split.filename}`);
      assert.ok(split.size > 0 && split.stopTimeOffset > split.startTimeOffset);
      const splitMeta = JSON.parse(
        readFileSync(join(dir.path, 'archives', archive.id, split.metadataFilename), 'utf8'),
      ) as Record<string, unknown>;
      assert.equal(splitMeta.split_index, '0001');
      assert.equal(splitMeta.connection_id, stream.connectionId);
      assert.equal(splitMeta.recording_id, archive.id);
      assert.equal(splitMeta.video_codec_type, 'VP8');
      assert.equal(splitMeta.audio_codec_type, 'OPUS');
      assert.equal(splitMeta.size, split.size);
      assert.match(String(splitMeta.start_timestamp), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.equal(typeof splitMeta.start_time, 'number');
      // The video size at the file's start (and each change after, with its time).
      const sizes = splitMeta.resolution_changes as Array<{
        offset_ms: number;
        width: number;
        height: number;
      }>;
      assert.equal(sizes[0]!.width, splitMeta.video_width);
      assert.equal(sizes[0]!.height, splitMeta.video_height);
      assert.equal(sizes[0]!.offset_ms, split.startTimeOffset);
      assert.deepEqual([splitMeta.video_width, splitMeta.video_height], [640, 360], 'the clip is 640x360');
      assert.ok(events.some((e) => e.type === 'archive.file.available' && e.archiveId === archive.id));
      assert.ok(
        !events.some((e) => e.type === 'archive.stopped' && e.archiveId === archive.id),
        'announced while the archive still records',
      );

      await api.stop(archive.id);
      await publisher.stop();
      const end = await waitFor(
        () => events.find((e) => e.archiveId === archive.id && e.type === 'split-archive-end.available'),
        10_000,
        'the end of the splits',
      );
      const endData = end.data as { splitLastIndex: number; files: string[]; filename: string };
      assert.ok(endData.splitLastIndex >= 1);
      assert.equal(endData.files.length, endData.splitLastIndex);
      const splitEvents = events.filter(
        (e) => e.archiveId === archive.id && e.type === 'split-archive.available',
      );
      assert.equal(splitEvents.length, endData.splitLastIndex, 'one event per split file');
      assert.ok(end.seq > splitEvents.at(-1)!.seq, 'the end comes after the last split');
      assert.ok(existsSync(join(dir.path, 'archives', archive.id, endData.filename)));

      const manifest = JSON.parse(
        readFileSync(join(dir.path, 'archives', archive.id, 'manifest.json'), 'utf8'),
      ) as Manifest;
      const file = manifest.files[0]!;
      assert.deepEqual(file.layoutClassList, ['focus', 'speaker']);
      assert.equal(file.metadataFilename, `${file.filename}.json`);
      const meta = JSON.parse(
        readFileSync(join(dir.path, 'archives', archive.id, file.metadataFilename!), 'utf8'),
      ) as Record<string, unknown>;
      assert.deepEqual(meta.layout_class_list, ['focus', 'speaker']);
      assert.equal(meta.stream_id, stream.id);
      assert.ok(manifest.splits!.every((s) => s.metadataFilename === `${s.filename}.json`));
      assert.deepEqual(manifest.splitEnds, [endData.filename]);
    },
  );

  it(
    'records an archiveMode=always session at 640x480, stops it after the last client leaves, and lets the operator stop it',
    { timeout: 90_000 },
    async () => {
      const createSession = promisify<Record<string, string>, { sessionId: string }>((o, cb) =>
        sdk.createSession(o, cb as Callback<{ sessionId: string }>),
      );
      const session = await createSession({ mediaMode: 'routed', archiveMode: 'always' });
      const room = await operator.room(session.sessionId);
      assert.equal(room.autoRecord, true);
      assert.equal(room.recording.resolution, '640x480');
      const list = async () =>
        (await api.call<{ items: ArchiveJson[] }>('GET', `/archive?sessionId=${room.id}`)).body.items;

      const { publisher } = await publish(room.id);
      const auto = await waitFor(async () => (await list())[0], 10_000, 'the automatic archive');
      assert.equal(auto.outputMode, 'composed');
      assert.equal(auto.resolution, '640x480');
      await waitFor(async () => (await api.get(auto.id)).status === 'started', 10_000, 'recording');
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const leftAt = Date.now();
      await publisher.stop();
      const stopped = await waitFor(
        async () => {
          const a = await api.get(auto.id);
          return a.status !== 'started' && a.status !== 'paused' ? a : undefined;
        },
        15_000,
        'the automatic archive to stop',
      );
      assert.equal(stopped.reason, 'session ended');
      assert.ok(Date.now() - leftAt >= 2500, 'it waited autoArchiveStopSec (3 s), not sessionGraceSec (1 s)');

      // The operator stops a running automatic archive: automatic recording turns off.
      const { publisher: again } = await publish(room.id);
      const second = await waitFor(
        async () => (await list()).find((a) => a.id !== auto.id && a.status === 'started'),
        10_000,
        'a new automatic archive',
      );
      assert.equal((await api.call('POST', `/archive/${second.id}/stop`)).status, 409, 'not by the API');
      const byOperator = await operator.ok<ArchiveJson>('POST', `/api/archives/${second.id}/stop`);
      assert.equal(byOperator.status, 'stopped');
      assert.equal(byOperator.reason, 'user initiated');
      assert.equal((await operator.room(room.id)).autoRecord, false);
      await again.stop();
      // Composed size is the MP4's size.
      const composed = await api.waitStatus(auto.id, 'available', 60_000);
      const mp4 = readFileSync(join(dir.path, 'archives', auto.id, 'archive.mp4'));
      assert.equal(composed.size, mp4.length);
    },
  );

  it(
    'stops an archive nobody publishes to, and gives createdAt as OpenTok does',
    { timeout: 60_000 },
    async () => {
      const room = await operator.createRoom({ name: 'Nobody' });
      const viewer = await operator.createToken(room.id, { role: 'subscriber' });
      const keepOpen = new WebSocket(`${core.url.replace('http', 'ws')}/signaling`);
      await new Promise((resolve) => keepOpen.once('open', resolve));
      keepOpen.send(JSON.stringify({ type: 'join', token: viewer.token }));
      const ping = setInterval(() => keepOpen.send('{"type":"ping"}'), 2000);
      try {
        await waitFor(
          async () => (await operator.room(room.id)).session?.connections.length === 1,
          5000,
          'join',
        );
        const lonely = await api.start({ sessionId: room.id, outputMode: 'individual' });
        const ended = await api.waitStatus(lonely.id, 'available', 15_000);
        assert.equal(ended.reason, 'maximum idle time exceeded');

        // createdAt: the start call in status callbacks, when recording began in GET.
        const archive = await api.start({ sessionId: room.id, outputMode: 'individual' });
        await new Promise((resolve) => setTimeout(resolve, 1200));
        const { publisher } = await publish(room.id);
        await api.waitStatus(archive.id, 'started', 10_000);
        await new Promise((resolve) => setTimeout(resolve, 1500));
        await api.stop(archive.id);
        await publisher.stop();
        const got = await api.waitStatus(archive.id, 'available', 10_000);
        const startedEvent = events.find((e) => e.archiveId === archive.id && e.type === 'archive.started')!;
        const callbackCreatedAt = (startedEvent.data as ArchiveJson).createdAt;
        assert.equal(callbackCreatedAt, archive.createdAt);
        assert.ok(got.createdAt >= archive.createdAt + 1000, `${got.createdAt} vs ${archive.createdAt}`);
        const manifest = JSON.parse(
          readFileSync(join(dir.path, 'archives', archive.id, 'manifest.json'), 'utf8'),
        ) as Manifest;
        assert.equal(manifest.createdAt, got.createdAt);
        // Offsets count from when recording began; the metadata counts from the start call.
        assert.equal(manifest.startCalledAt, archive.createdAt);
        const file = manifest.files[0]!;
        const meta = JSON.parse(
          readFileSync(join(dir.path, 'archives', archive.id, file.metadataFilename!), 'utf8'),
        ) as { start_time_offset_ms: number };
        assert.equal(
          file.startTimeOffset,
          meta.start_time_offset_ms - (manifest.createdAt - archive.createdAt),
        );
      } finally {
        clearInterval(ping);
        keepOpen.close();
      }
    },
  );

  it(
    'lists the streams being archived in the started status callback and event, as the start answer does',
    { timeout: 60_000 },
    async () => {
      const receiver = await createWebhookReceiver({ listen: true });
      const callback = await api.call<{ id: string }>('POST', '/callback', {
        group: 'archive',
        event: 'status',
        url: receiver.url('/started'),
      });
      assert.equal(callback.status, 200, JSON.stringify(callback.body));
      try {
        const room = await operator.createRoom({ name: 'Started streams' });
        const { publisher, stream } = await publish(room.id);
        const archive = await api.start({ sessionId: room.id, outputMode: 'individual' });
        assert.deepEqual(
          archive.streams.map((s) => s.streamId),
          [stream.id],
        );
        // RefArch: streams are those "currently being archived", set for status "started".
        const startedOf = (r: { path: string; body: string }) => {
          if (r.path !== '/started') return undefined;
          const body = JSON.parse(r.body) as ArchiveJson;
          return body.id === archive.id && body.status === 'started' ? body : undefined;
        };
        const accepted = await receiver.waitFor((a) => a.some((r) => startedOf(r) !== undefined), 15_000);
        const started = accepted.map(startedOf).find((b) => b !== undefined)!;
        assert.deepEqual(started.streams, archive.streams);
        const event = events.find((e) => e.archiveId === archive.id && e.type === 'archive.started')!;
        assert.deepEqual((event.data as ArchiveJson).streams, archive.streams);
        await api.stop(archive.id);
        await publisher.stop();
        await api.waitStatus(archive.id, 'available');
      } finally {
        await api.call('DELETE', `/callback/${callback.body.id}`);
        await receiver.close();
      }
    },
  );

  it(
    'gives size 0 until the archive is generated: in the stop answer and the stopped callback',
    { timeout: 60_000 },
    async () => {
      const room = await operator.createRoom({ name: 'Sizes' });
      const { publisher } = await publish(room.id);
      const archive = await api.start({ sessionId: room.id, outputMode: 'individual' });
      await new Promise((resolve) => setTimeout(resolve, 1500));
      // RefArch: size is 0 for archives that have not been generated; Ref2013's stop answer shows 0.
      const stopped = await api.stop(archive.id);
      await publisher.stop();
      assert.equal(stopped.status, 'stopped');
      assert.equal(stopped.size, 0);
      const available = await api.waitStatus(archive.id, 'available');
      const files = await operator.ok<{ items: Array<{ kind: string; size: number }> }>(
        'GET',
        `/api/archives/${archive.id}/files`,
      );
      assert.ok(available.size > 0);
      assert.equal(
        available.size,
        files.items.reduce((n, f) => n + f.size, 0),
      );
      const sizes = (type: string) =>
        events
          .filter((e) => e.archiveId === archive.id && e.type === type)
          .map((e) => (e.data as ArchiveJson).size);
      assert.deepEqual(sizes('archive.stopped'), [0]);
      assert.deepEqual(sizes('archive.available'), [available.size]);
    },
  );

  it('refuses a repeated sessionId in the archive list, naming it', { timeout: 30_000 }, async () => {
    const room = await operator.createRoom({ name: 'Repeated' });
    for (const query of [
      `sessionId=${room.id}&sessionId=other`,
      `sessionId=${room.id}&sessionId=${room.id}`,
    ]) {
      const listed = await api.call<{ code: string; field: string; message: string }>(
        'GET',
        `/archive?${query}`,
      );
      assert.equal(listed.status, 400, JSON.stringify(listed.body));
      assert.equal(listed.body.field, 'sessionId');
      assert.match(listed.body.message, /sessionId/);
      const legacy = await partner(core.url, 'GET', `?${query}`);
      assert.equal(legacy.status, 400, JSON.stringify(legacy.body));
      assert.equal(legacy.body.field, 'sessionId');
    }
    const one = await api.call<{ count: number }>('GET', `/archive?sessionId=${room.id}`);
    assert.equal(one.status, 200);
    assert.equal(one.body.count, 0);
  });

  it(
    'names the field as the caller sent it in start and session/create errors',
    { timeout: 60_000 },
    async () => {
      type Failure = { code: string; field?: string; message: string };
      const unknown = await api.call<Failure>('POST', '/archive', { sessionId: 'nosuchsession' });
      assert.equal(unknown.status, 404, JSON.stringify(unknown.body));
      assert.equal(unknown.body.field, 'sessionId');
      assert.match(unknown.body.message, /session nosuchsession does not exist/);

      const room = await operator.createRoom({ name: 'Fields' });
      const { publisher } = await publish(room.id);
      const badLayout = await api.call<Failure>('POST', '/archive', {
        sessionId: room.id,
        outputMode: 'composed',
        layout: { type: 'mosaic' },
      });
      assert.equal(badLayout.status, 400, JSON.stringify(badLayout.body));
      assert.equal(badLayout.body.field, 'layout.type');
      await publisher.stop();

      const session = await json<Failure>(`${core.url}/session/create`, {
        method: 'POST',
        headers: {
          'x-opentok-auth': await projectJwt(),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'archiveMode=always&archiveResolution=800x601',
      });
      assert.equal(session.status, 400, JSON.stringify(session.body));
      assert.equal(session.body.field, 'archiveResolution');
      assert.match(session.body.message, /archiveResolution/);

      const proto = await json<Failure>(`${core.url}/v2/project/${KEY}/archive`, {
        method: 'POST',
        headers: { 'x-opentok-auth': await projectJwt(), 'content-type': 'application/json' },
        body: `{"sessionId":"${room.id}","__proto__":{"outputMode":"individual"}}`,
      });
      assert.equal(proto.status, 400, JSON.stringify(proto.body));
      assert.match(proto.body.message, /"__proto__" key.*is not allowed/);
      assert.doesNotMatch(proto.body.message, /not valid JSON/);
    },
  );

  it(
    'refuses resolution and maxBitrate for an individual-stream archive, naming the field',
    { timeout: 60_000 },
    async () => {
      const room = await operator.createRoom({ name: 'Composed only' });
      const { publisher } = await publish(room.id);
      // RefArch: both are only for composed archives.
      for (const option of [{ resolution: '1280x720' }, { maxBitrate: 500_000 }]) {
        const refused = await api.call<{ field: string; message: string }>('POST', '/archive', {
          sessionId: room.id,
          outputMode: 'individual',
          ...option,
        });
        const field = Object.keys(option)[0]!;
        assert.equal(refused.status, 400, JSON.stringify(refused.body));
        assert.equal(refused.body.field, field);
        assert.match(refused.body.message, /composed archives only/);
      }
      const listed = await api.call<{ count: number }>('GET', `/archive?sessionId=${room.id}`);
      assert.equal(listed.body.count, 0, 'none started');
      await publisher.stop();
    },
  );

  it('filters the archive list and deletes in bulk', { timeout: 30_000 }, async () => {
    const all = await operator.ok<{ count: number; items: ArchiveJson[] }>('GET', '/api/archives?count=100');
    assert.ok(all.count >= 4);
    const available = await operator.ok<{ items: ArchiveJson[] }>(
      'GET',
      '/api/archives?status=available,uploaded',
    );
    assert.ok(available.items.length > 0 && available.items.every((a) => a.status === 'available'));
    const oldest = Math.min(...all.items.map((a) => a.createdAt));
    const later = await operator.ok<{ items: ArchiveJson[] }>(
      'GET',
      `/api/archives?createdFrom=${oldest + 1}`,
    );
    assert.equal(later.items.length, all.items.length - 1);
    const before = await operator.ok<{ items: ArchiveJson[] }>(
      'GET',
      `/api/archives?createdTo=${new Date(oldest + 1).toISOString()}`,
    );
    assert.equal(before.items.length, 1);
    const roomId = all.items[0]!.roomId;
    const ofRoom = await operator.ok<{ items: ArchiveJson[] }>('GET', `/api/archives?roomId=${roomId}`);
    assert.ok(ofRoom.items.every((a) => a.roomId === roomId));
    const bad = await operator.request<{ message: string }>('GET', '/api/archives?status=bogus');
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /status/);

    const ids = ofRoom.items.map((a) => a.id);
    const result = await operator.ok<{ items: Array<{ id: string; deleted: boolean; error?: string }> }>(
      'POST',
      '/api/archives/delete',
      { ids: [...ids, 'b40ef09b-3811-4726-b508-e41a0f96c68f'] },
    );
    assert.deepEqual(
      result.items
        .filter((r) => r.deleted)
        .map((r) => r.id)
        .sort(),
      [...ids].sort(),
    );
    assert.match(result.items.at(-1)!.error ?? '', /does not exist/);
    const after = await operator.ok<{ count: number }>('GET', `/api/archives?roomId=${roomId}`);
    assert.equal(after.count, 0);
  });

  it(
    'records without video or audio, at portrait resolutions, with recordingMetadata, and honours expireTime',
    { timeout: 120_000 },
    async () => {
      const room = await operator.createRoom({ name: 'Options' });
      const { publisher } = await publish(room.id);
      const audioOnly = await api.start({
        sessionId: room.id,
        outputMode: 'individual',
        hasVideo: false,
        multiArchiveTag: 'audio',
        recordingMetadata: { course: 'physics', lesson: 3 },
        expireTime: Date.now() + 12_000,
      });
      const portrait = await api.start({
        sessionId: room.id,
        outputMode: 'composed',
        hasAudio: false,
        resolution: '480x640',
        multiArchiveTag: 'portrait',
      });
      assert.equal(portrait.resolution, '480x640');
      await new Promise((resolve) => setTimeout(resolve, 2500));
      await api.stop(audioOnly.id);
      await api.stop(portrait.id);
      await publisher.stop();

      const audio = await api.waitStatus(audioOnly.id, 'available', 10_000);
      assert.equal(audio.hasVideo, false);
      assert.deepEqual(audio.recordingMetadata, { course: 'physics', lesson: 3 });
      const folder = join(dir.path, 'archives', audioOnly.id);
      const manifest = JSON.parse(readFileSync(join(folder, 'manifest.json'), 'utf8')) as Manifest & {
        recordingMetadata?: unknown;
      };
      assert.deepEqual(manifest.recordingMetadata, { course: 'physics', lesson: 3 });
      const audioFile = manifest.files[0]!;
      assert.equal(audioFile.hasVideo, false);
      const audioProbe = await probe(join(folder, audioFile.filename));
      assert.deepEqual(
        audioProbe.streams.map((s) => s.codec_type),
        ['audio'],
      );
      const meta = JSON.parse(readFileSync(join(folder, `${audioFile.filename}.json`), 'utf8')) as Record<
        string,
        unknown
      >;
      assert.equal(meta.video, false);
      assert.deepEqual(meta.recording_metadata, { course: 'physics', lesson: 3 });

      const composed = await api.waitStatus(portrait.id, 'available', 90_000);
      const mp4 = await probe(join(dir.path, 'archives', portrait.id, 'archive.mp4'));
      assert.deepEqual(
        mp4.streams.map((s) => s.codec_type),
        ['video'],
        'no audio track',
      );
      assert.equal(mp4.streams[0]!.width, 480);
      assert.equal(mp4.streams[0]!.height, 640);
      assert.equal(
        composed.size,
        readFileSync(join(dir.path, 'archives', portrait.id, 'archive.mp4')).length,
      );

      // expireTime: the local files go, the status is expired, with an event (and so a webhook).
      const expired = await api.waitStatus(audioOnly.id, 'expired', 20_000);
      assert.equal(expired.url, null);
      assert.ok(!existsSync(folder));
      assert.ok(events.some((e) => e.type === 'archive.expired' && e.archiveId === audioOnly.id));
    },
  );

  it('composes a splitOnly composed archive from its split files', { timeout: 120_000 }, async () => {
    const room = await operator.createRoom({ name: 'Split composed' });
    const { publisher } = await publish(room.id);
    const archive = await api.start({
      sessionId: room.id,
      outputMode: 'composed',
      splitDuration: 5,
      splitOnly: true,
    });
    await waitFor(
      () => events.find((e) => e.archiveId === archive.id && e.type === 'split-archive.available'),
      20_000,
      'a split file',
    );
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await api.stop(archive.id);
    await publisher.stop();
    const done = await api.waitStatus(archive.id, 'available', 90_000);
    const folder = join(dir.path, 'archives', archive.id);
    const manifest = JSON.parse(readFileSync(join(folder, 'manifest.json'), 'utf8')) as Manifest;
    assert.equal(manifest.files.length, 0, 'no whole files');
    assert.ok(manifest.splits!.length >= 2);
    const mp4 = await probe(join(folder, 'archive.mp4'));
    const last = Math.max(...manifest.splits!.map((f) => f.stopTimeOffset));
    const first = Math.min(...manifest.splits!.map((f) => f.startTimeOffset));
    // Every split is in it (one split alone is at most ~5 s); the composition may also keep
    // the moments before the first frame, from the start call.
    const splitsSec = (last - first) / 1000;
    assert.ok(
      mp4.duration >= splitsSec - 0.5 && mp4.duration <= splitsSec + 3,
      `${mp4.duration} s for ${splitsSec} s of splits`,
    );
    assert.equal(done.size, readFileSync(join(folder, 'archive.mp4')).length);
  });

  it(
    "sends a composition's and a hook's events to their statusCallback, signed, and filters compositions",
    { timeout: 120_000 },
    async () => {
      const receiver = await createWebhookReceiver();
      try {
        const room = await operator.createRoom({ name: 'Callbacks' });
        const hook = await operator.ok<{ id: string; statusCallback: string; statusCallbackSecret: string }>(
          'POST',
          '/api/composition-hooks',
          { friendlyName: 'every archive', roomId: room.id, statusCallback: receiver.url('/hook') },
        );
        assert.equal(hook.statusCallback, receiver.url('/hook'));
        assert.match(hook.statusCallbackSecret, /^whsec_/);
        const bad = await operator.request<{ message: string }>('POST', '/api/composition-hooks', {
          friendlyName: 'bad',
          statusCallback: 'ftp://x',
        });
        assert.equal(bad.status, 400);
        assert.match(bad.body.message, /statusCallback/);

        const { publisher } = await publish(room.id);
        const archive = await api.start({ sessionId: room.id, outputMode: 'individual' });
        await new Promise((resolve) => setTimeout(resolve, 1500));
        await api.stop(archive.id);
        await publisher.stop();
        await api.waitStatus(archive.id, 'available');
        const one = await operator.ok<{ id: string; statusCallbackSecret: string }>(
          'POST',
          '/api/compositions',
          {
            archiveId: archive.id,
            statusCallback: receiver.url('/one'),
          },
        );
        const done = (path: string) => (accepted: Array<{ path: string; body: string }>) =>
          accepted.some((r) => r.path === path && r.body.includes('"composition.available"'));
        await receiver.waitFor((a) => done('/one')(a) && done('/hook')(a), 90_000);
        const check = (path: string, secret: string) => {
          const verifier = new Webhook(secret);
          return receiver
            .accepted()
            .filter((r) => r.path === path)
            .map(
              (r) =>
                verifier.verify(r.body, {
                  'webhook-id': String(r.headers['webhook-id']),
                  'webhook-timestamp': String(r.headers['webhook-timestamp']),
                  'webhook-signature': String(r.headers['webhook-signature']),
                }) as { type: string; data: { compositionId: string; hookId?: string | null } },
            );
        };
        const mine = check('/one', one.statusCallbackSecret);
        assert.deepEqual(
          mine.map((e) => e.type).filter((t) => t !== 'composition.progress'),
          ['composition.enqueued', 'composition.started', 'composition.available'],
        );
        assert.ok(
          mine.every((e) => e.data.compositionId === one.id),
          'only its own events',
        );
        const hooked = check('/hook', hook.statusCallbackSecret);
        assert.ok(hooked.length > 0 && hooked.every((e) => e.data.hookId === hook.id));
        assert.ok(hooked.every((e) => e.data.compositionId !== one.id));

        const ofRoom = await operator.ok<{ count: number }>('GET', `/api/compositions?roomId=${room.id}`);
        assert.equal(ofRoom.count, 2);
        const ofArchive = await operator.ok<{ count: number }>(
          'GET',
          `/api/compositions?archiveId=${archive.id}`,
        );
        assert.equal(ofArchive.count, 2);
        const future = await operator.ok<{ count: number }>(
          'GET',
          `/api/compositions?roomId=${room.id}&createdFrom=${Date.now() + 60_000}`,
        );
        assert.equal(future.count, 0);
        const past = await operator.ok<{ count: number }>(
          'GET',
          `/api/compositions?roomId=${room.id}&createdTo=${new Date(Date.now() - 3_600_000).toISOString()}`,
        );
        assert.equal(past.count, 0);
        await operator.ok('DELETE', `/api/composition-hooks/${hook.id}`);
      } finally {
        await receiver.close();
      }
    },
  );

  it(
    'removes never-uploaded local archives after localRetentionSec when that retention is on',
    { timeout: 30_000 },
    async () => {
      const before = await operator.ok<{ items: ArchiveJson[] }>('GET', '/api/archives?status=available');
      assert.ok(before.items.length > 0);
      await operator.ok('PATCH', '/api/settings', { localRetentionEnabled: true, localRetentionSec: 1 });
      try {
        await waitFor(
          async () =>
            (await operator.ok<{ count: number }>('GET', '/api/archives?status=available')).count === 0,
          10_000,
          'local archives to expire',
        );
        for (const a of before.items) assert.ok(!existsSync(join(dir.path, 'archives', a.id)));
      } finally {
        await operator.ok('PATCH', '/api/settings', { localRetentionEnabled: false });
      }
    },
  );
});
