import assert from 'node:assert/strict';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { compositionRoutes } from '../../src/main/http/routes/compositions';
import { CompositionService } from '../../src/main/composition/CompositionService';
import { ArchiveStatus } from '../../src/main/events/ArchiveStatus';
import { EventBus } from '../../src/main/events/EventBus';
import { installErrorHandling } from '../../src/main/http/errors';
import { createLogger } from '../../src/main/logger';
import { resolveFfmpeg, type Ffmpeg } from '../../src/main/media/ffmpeg';
import { ArchiveRepository, type ArchiveRecord } from '../../src/main/store/ArchiveRepository';
import { EventRepository } from '../../src/main/store/EventRepository';
import { Store } from '../../src/main/store/Store';
import type { CompositionHookJson, CompositionJson } from '../../src/shared/compositions';
import type { Manifest } from '../../src/shared/archive';
import type { AnyStudioEvent } from '../../src/shared/events';
import {
  averageColor,
  frameAt,
  makeSource,
  manifestFile,
  nameColor,
  probeFile,
  writeManifest,
  type ColorName,
} from '../helpers/media';
import { tempDir } from '../helpers/tmp';

const logger = createLogger({ level: 'silent' });

/** Processes whose command line mentions `text` (to prove ffmpeg was killed). */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) pids.push(Number(entry));
    } catch {
      // the process ended meanwhile
    }
  }
  return pids;
}

/** A studio core reduced to what compositions need: store, bus, archive statuses, the service, its routes. */
class Harness {
  readonly store: Store;
  readonly bus: EventBus;
  readonly archives: ArchiveRepository;
  readonly status: ArchiveStatus;
  readonly events: AnyStudioEvent[] = [];
  service: CompositionService;
  app: FastifyInstance;

  constructor(
    readonly dataDir: string,
    readonly ffmpeg: Ffmpeg,
    concurrency = 1,
  ) {
    this.store = new Store({ path: join(dataDir, 'studio.db') });
    this.bus = new EventBus(new EventRepository(this.store.db), logger);
    this.bus.on('event', (event) => this.events.push(event));
    this.archives = new ArchiveRepository(this.store.db);
    this.status = new ArchiveStatus(this.archives, this.bus, {
      apiKey: '12345678',
      baseUrl: 'http://127.0.0.1',
    });
    this.service = this.#newService(concurrency);
    this.app = this.#newApp();
  }

  #newService(concurrency: number): CompositionService {
    return new CompositionService({
      db: this.store.db,
      bus: this.bus,
      archiveStatus: this.status,
      logger,
      settings: { compositionConcurrency: concurrency },
      dataDir: this.dataDir,
      ffmpeg: this.ffmpeg,
      x264Preset: 'ultrafast',
    });
  }

  #newApp(): FastifyInstance {
    const app = Fastify() as unknown as FastifyInstance;
    installErrorHandling(app);
    // The routes ignore the HTTP context; the real server passes its own.
    compositionRoutes(this.service)(app, undefined as never);
    return app;
  }

  /** Closes the service and starts a new one on the same database (a restart). */
  async restart(): Promise<void> {
    await this.service.close();
    await this.app.close();
    this.service = this.#newService(1);
    this.app = this.#newApp();
    this.service.start();
  }

  /** An archive row in `started`, with its files copied from `sources` and its manifest. */
  createArchive(
    files: Array<{
      source: string;
      streamId: string;
      start: number;
      stop: number;
      videoType?: 'camera' | 'screen';
    }>,
    row: Partial<ArchiveRecord> = {},
  ): ArchiveRecord {
    const id = `a-${Math.random().toString(36).slice(2, 10)}`;
    const dir = join(this.dataDir, 'archives', id);
    mkdirSync(dir, { recursive: true });
    const manifestFiles = files.map((f) => {
      const filename = `${f.streamId}.webm`;
      copyFileSync(f.source, join(dir, filename));
      return manifestFile({
        streamId: f.streamId,
        filename,
        startTimeOffset: f.start,
        stopTimeOffset: f.stop,
        videoType: f.videoType ?? 'camera',
      });
    });
    const manifest = writeManifest(dir, manifestFiles, { id });
    const now = Date.now();
    const record: ArchiveRecord = {
      id,
      roomId: 'room-1',
      sessionId: null,
      name: null,
      status: 'started',
      reason: '',
      outputMode: 'composed',
      streamMode: 'auto',
      hasAudio: true,
      hasVideo: true,
      resolution: '320x240',
      multiArchiveTag: null,
      format: 'webm',
      options: {},
      size: 0,
      duration: 0,
      expireAt: null,
      createdAt: now,
      stoppedAt: null,
      updatedAt: now,
      ...row,
    };
    this.archives.insert(record);
    for (const file of manifest.files) {
      this.archives.upsertFile({
        archiveId: id,
        streamId: file.streamId,
        filename: file.filename,
        kind: 'media',
        size: file.size,
        startOffsetMs: file.startTimeOffset,
        stopOffsetMs: file.stopTimeOffset,
        info: {},
      });
    }
    return record;
  }

  /** What the recorder does once the files and manifest are final. */
  stop(archiveId: string): void {
    this.status.set(archiveId, 'stopped', { reason: 'user initiated', stoppedAt: Date.now() });
  }

  /** Resolves with the first event (seen so far or to come) matching `match`. */
  event(match: (e: AnyStudioEvent) => boolean, timeoutMs = 30_000): Promise<AnyStudioEvent> {
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.bus.off('event', listener);
        reject(
          new Error(
            `no matching event within ${timeoutMs} ms; saw ${this.events.map((e) => e.type).join(', ')}`,
          ),
        );
      }, timeoutMs);
      const listener = (e: AnyStudioEvent) => {
        if (!match(e)) return;
        clearTimeout(timer);
        this.bus.off('event', listener);
        resolve(e);
      };
      this.bus.on('event', listener);
    });
  }

  compositionEvent(
    type: AnyStudioEvent['type'],
    compositionId?: string,
    timeoutMs?: number,
  ): Promise<AnyStudioEvent> {
    return this.event(
      (e) =>
        e.type === type &&
        (compositionId === undefined ||
          (e.data as { compositionId?: string }).compositionId === compositionId),
      timeoutMs,
    );
  }

  async request<T = unknown>(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: T; headers: Record<string, unknown>; raw: Buffer }> {
    const response = await this.app.inject({
      method,
      url,
      headers,
      ...(body !== undefined ? { payload: body as Record<string, unknown> } : {}),
    });
    let parsed: unknown = response.body;
    try {
      parsed = response.body === '' ? undefined : JSON.parse(response.body);
    } catch {
      // media bytes
    }
    return {
      status: response.statusCode,
      body: parsed as T,
      headers: response.headers,
      raw: response.rawPayload,
    };
  }

  async close(): Promise<void> {
    await this.service.close();
    await this.app.close();
    this.bus.close();
    this.store.close();
  }
}

describe('composition service (real ffmpeg)', () => {
  let sources: ReturnType<typeof tempDir>;
  let dir: ReturnType<typeof tempDir>;
  let ffmpeg: Ffmpeg;
  let h: Harness;
  const src = (name: string) => join(sources.path, name);

  before(async () => {
    sources = tempDir('spool-comp-src-');
    ffmpeg = await resolveFfmpeg(null);
    await Promise.all([
      makeSource({ path: src('red.webm'), duration: 12, color: 'red', tone: 300 }),
      makeSource({ path: src('blue.webm'), duration: 12, color: 'blue', tone: 500 }),
      makeSource({ path: src('busy.webm'), duration: 20, width: 320, height: 240, pattern: 'testsrc2' }),
    ]);
  });
  after(() => sources?.remove());
  beforeEach(() => {
    dir = tempDir('spool-comp-');
    h = new Harness(dir.path, ffmpeg);
    h.service.start();
  });
  afterEach(async () => {
    await h.close();
    dir.remove();
  });

  const twoColours = () => [
    { source: src('red.webm'), streamId: 'red', start: 0, stop: 12_000 },
    { source: src('blue.webm'), streamId: 'blue', start: 0, stop: 12_000 },
  ];

  it('a composed archive becomes available with archive.mp4 after it stops, following the layout changes made while recording', async () => {
    const archive = h.createArchive(twoColours(), {
      options: { layout: { type: 'bestFit' }, maxBitrate: 500_000 },
    });
    h.store.db
      .prepare('INSERT INTO layout_changes (archive_id, at_ms, layout) VALUES (?, ?, ?)')
      .run(archive.id, 10_000, JSON.stringify({ type: 'pip' }));
    h.stop(archive.id);
    const available = await h.event((e) => e.type === 'archive.available' && e.data.id === archive.id);
    const record = h.archives.get(archive.id)!;
    assert.equal(record.status, 'available');
    const files = h.archives.files(archive.id);
    const mp4 = files.find((f) => f.filename === 'archive.mp4');
    assert.equal(mp4?.kind, 'composition');
    // OpenTok: the size of a composed archive is the size of its MP4.
    assert.equal(record.size, mp4!.size, 'size is the MP4 size');
    assert.equal(record.size, statSync(join(h.dataDir, 'archives', archive.id, 'archive.mp4')).size);
    assert.equal(available.type === 'archive.available' && available.data.size, record.size);

    const output = join(dir.path, 'archives', archive.id, 'archive.mp4');
    const probe = await probeFile(output);
    assert.equal(probe.video?.width, 320);
    assert.ok(Math.abs(probe.duration - 12) < 0.1);
    const colour = async (t: number, x: number, y: number): Promise<ColorName> =>
      nameColor(averageColor(await frameAt(output, t), x - 8, y - 8, 16, 16));
    assert.equal(await colour(9.9, 240, 120), 'blue', 'bestFit before 10 s');
    assert.equal(await colour(10.1, 240, 120), 'red', 'pip from 10 s: red full size');
    assert.equal(await colour(10.1, 272, 202), 'blue', 'blue in the corner');

    const types = h.events
      .filter((e) => e.type.startsWith('composition.') && e.type !== 'composition.progress')
      .map((e) => e.type);
    assert.deepEqual(types, ['composition.enqueued', 'composition.started', 'composition.available']);
    const listed = await h.request<{ items: CompositionJson[] }>(
      'GET',
      `/api/compositions?archiveId=${archive.id}`,
    );
    assert.equal(listed.body.items.length, 1);
    assert.equal(listed.body.items[0]!.kind, 'archive');
    assert.equal(listed.body.items[0]!.status, 'completed');
    assert.equal(listed.body.items[0]!.maxBitrate, 500_000);
  });

  it('places each file at its offset from the start call, where the manifest (counting from a later start, as OpenTok) had to round it up to 0', async () => {
    const archive = h.createArchive([{ source: src('red.webm'), streamId: 'red', start: 0, stop: 12_000 }], {
      options: { layout: { type: 'bestFit' } },
    });
    // Recording effectively began 1 s after the start call; the file's time 0 is at the start
    // call (its row says 0), which the manifest cannot say (no negative offsets): 0 there too.
    const path = join(dir.path, 'archives', archive.id, 'manifest.json');
    const manifest = JSON.parse(readFileSync(path, 'utf8')) as Manifest;
    manifest.startCalledAt = archive.createdAt;
    manifest.createdAt = archive.createdAt + 1000;
    manifest.files[0]!.stopTimeOffset = 11_000;
    writeFileSync(path, `${JSON.stringify(manifest, null, 2)}\n`);
    h.stop(archive.id);
    await h.event((e) => e.type === 'archive.available' && e.data.id === archive.id);
    const output = join(dir.path, 'archives', archive.id, 'archive.mp4');
    assert.ok(Math.abs((await probeFile(output)).duration - 12) < 0.1);
    // Placed by the manifest, the picture would start at 1 s, black before.
    assert.equal(nameColor(averageColor(await frameAt(output, 0.5), 152, 112, 16, 16)), 'red');
  });

  it('a composed archive with a layout the composer cannot draw is composed with bestFit', async () => {
    const archive = h.createArchive(twoColours(), {
      resolution: '640x481',
      options: { layout: { type: 'custom', stylesheet: 'div.x { width: 10% }' } },
    });
    h.stop(archive.id);
    await h.event((e) => e.type === 'archive.available' && e.data.id === archive.id);
    const [composition] = h.service.repo.forArchive(archive.id);
    assert.deepEqual(composition!.spec.videoLayout, { type: 'bestFit' });
    assert.equal(composition!.spec.resolution, '640x480');
  });

  it('a composed archive whose recording file is missing fails with reason "failure"', async () => {
    const archive = h.createArchive(twoColours());
    writeManifest(join(dir.path, 'archives', archive.id), [
      manifestFile({ streamId: 'gone', filename: 'gone.webm', startTimeOffset: 0, stopTimeOffset: 1000 }),
    ]);
    h.stop(archive.id);
    const failed = await h.compositionEvent('composition.failed');
    assert.match((failed.data as { error: string }).error, /gone\.webm/);
    await h.event((e) => e.type === 'archive.failed' && e.data.id === archive.id);
    assert.equal(h.archives.get(archive.id)!.reason, 'failure');
  });

  it('individual archives are left to the recorder, but composition hooks compose every archive of their room', async () => {
    const hook = await h.request<CompositionHookJson>('POST', '/api/composition-hooks', {
      friendlyName: 'Room 1 grid',
      roomId: 'room-1',
      videoLayout: 'bestFit',
      format: 'webm',
    });
    assert.equal(hook.status, 201);
    await h.request('POST', '/api/composition-hooks', { friendlyName: 'Other room', roomId: 'room-2' });
    const archive = h.createArchive(twoColours(), { outputMode: 'individual' });
    h.stop(archive.id);
    const available = await h.compositionEvent('composition.available');
    const data = available.data as { compositionId: string; hookId: string; filename: string; kind: string };
    assert.equal(data.hookId, hook.body.id);
    assert.equal(data.kind, 'composition');
    assert.equal(data.filename, `compositions/${data.compositionId}.webm`);
    assert.equal(
      h.archives.get(archive.id)!.status,
      'stopped',
      'the composition service does not mark individual archives',
    );
    assert.equal(h.service.repo.forArchive(archive.id).length, 1, 'only the hook of this room applied');
    const probe = await probeFile(join(dir.path, 'archives', archive.id, data.filename));
    assert.equal(probe.video?.codec_name, 'vp8');
    assert.equal(probe.audio?.codec_name, 'opus');
  });

  it('POST /api/compositions queues a composition that completes with progress events and downloadable media (Range)', async () => {
    const archive = h.createArchive([{ source: src('busy.webm'), streamId: 'busy', start: 0, stop: 20_000 }]);
    h.stop(archive.id);
    await h.event((e) => e.type === 'archive.available' && e.data.id === archive.id);
    const created = await h.request<CompositionJson>('POST', '/api/compositions', {
      archiveId: archive.id,
      resolution: '1280x720',
      videoLayout: { main: { video_sources: ['stream:bus*'] } },
      audioSources: ['*'],
    });
    assert.equal(created.status, 201);
    assert.equal(created.body.status, 'enqueued');
    assert.equal(created.body.videoCodec, 'h264');
    assert.equal(created.body.trim, true);
    const id = created.body.id;
    await h.compositionEvent('composition.available', id, 60_000);

    const progress = h.events
      .filter((e) => e.type === 'composition.progress' && e.data.compositionId === id)
      .map((e) => (e.data as { percent: number }).percent);
    assert.ok(progress.length >= 1, 'progress was reported');
    assert.deepEqual(
      progress,
      [...progress].sort((a, b) => a - b),
      'progress only grows',
    );
    const got = await h.request<CompositionJson>('GET', `/api/compositions/${id}`);
    assert.equal(got.body.status, 'completed');
    assert.equal(got.body.progress, 100);
    assert.ok(Math.abs(got.body.duration - 20) < 0.1);
    assert.ok(
      h.archives
        .files(archive.id)
        .some((f) => f.filename === `compositions/${id}.mp4` && f.kind === 'composition'),
      'registered as an archive file for delivery',
    );

    const whole = await h.request('GET', `/api/compositions/${id}/media`);
    assert.equal(whole.status, 200);
    assert.equal(whole.headers['content-type'], 'video/mp4');
    assert.equal(whole.headers['accept-ranges'], 'bytes');
    assert.equal(whole.raw.length, got.body.size);
    const part = await h.request('GET', `/api/compositions/${id}/media`, undefined, {
      range: 'bytes=100-199',
    });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes 100-199/${got.body.size}`);
    assert.deepEqual(part.raw, whole.raw.subarray(100, 200));
    const beyond = await h.request('GET', `/api/compositions/${id}/media`, undefined, {
      range: `bytes=${got.body.size}-`,
    });
    assert.equal(beyond.status, 416);
  });

  it('refuses invalid compositions and compositions of missing archives with 4xx errors naming the field', async () => {
    const archive = h.createArchive(twoColours());
    const post = (body: unknown) =>
      h.request<{ code: string; message: string; field?: string }>('POST', '/api/compositions', body);
    const cases: Array<[unknown, number, string | undefined, RegExp]> = [
      [{}, 400, 'archiveId', /required/],
      [{ archiveId: 'nope' }, 404, 'archiveId', /archive nope does not exist/],
      [
        { archiveId: archive.id, videoLayout: { main: { video_sources: ['speaker:1'] } } },
        400,
        'videoLayout.main.video_sources[0]',
        /unknown source pattern/,
      ],
      [
        { archiveId: archive.id, videoLayout: { main: { x_pos: 500, width: 200, video_sources: ['*'] } } },
        400,
        'videoLayout.main.width',
        /outside the 640x480 canvas/,
      ],
      [{ archiveId: archive.id, videoLayout: 'mosaic' }, 400, 'videoLayout', /unknown layout/],
      [{ archiveId: archive.id, resolution: '641x480' }, 400, 'resolution', /even/],
      [{ archiveId: archive.id, maxBitrate: 50 }, 400, 'maxBitrate', /at least 100000/],
      [{ archiveId: archive.id, format: 'avi' }, 400, 'format', /mp4 or webm/],
      [{ archiveId: archive.id, format: 'mp4', videoCodec: 'vp9' }, 400, 'videoCodec', /H.264/],
      [
        { archiveId: archive.id, audioSources: ['type:hologram'] },
        400,
        'audioSources[0]',
        /unknown video type/,
      ],
      [{ archiveId: archive.id, colour: 'red' }, 400, 'colour', /colour: is not a known field/],
      [{ archiveId: archive.id }, 409, 'archiveId', /still recording/],
    ];
    for (const [body, status, field, message] of cases) {
      const response = await post(body);
      assert.equal(response.status, status, JSON.stringify(body));
      assert.equal(response.body.field, field, JSON.stringify(body));
      assert.match(response.body.message, message);
    }
    assert.equal((await h.request('GET', '/api/compositions/nope')).status, 404);
    assert.equal((await h.request('DELETE', '/api/compositions/nope')).status, 404);
    assert.equal((await h.request('GET', '/api/compositions?status=lost')).status, 400);
  });

  it('DELETE cancels a running composition: ffmpeg is killed, its file removed, its status deleted', async () => {
    const archive = h.createArchive(
      [{ source: src('busy.webm'), streamId: 'busy', start: 0, stop: 20_000 }],
      {
        outputMode: 'individual',
      },
    );
    h.stop(archive.id);
    const created = await h.request<CompositionJson>('POST', '/api/compositions', {
      archiveId: archive.id,
      resolution: '1920x1080',
      format: 'webm',
      videoCodec: 'vp9',
    });
    const id = created.body.id;
    await h.compositionEvent('composition.progress', id);
    assert.ok(processesMentioning(id).length > 0, 'ffmpeg runs');
    const deleted = await h.request('DELETE', `/api/compositions/${id}`);
    assert.equal(deleted.status, 204);
    assert.deepEqual(processesMentioning(id), [], 'ffmpeg was killed');
    assert.equal((await h.request('GET', `/api/compositions/${id}`)).status, 404);
    assert.equal(h.service.repo.get(id)!.status, 'deleted');
    const folder = join(dir.path, 'archives', archive.id, 'compositions');
    assert.deepEqual(existsSync(folder) ? readdirSync(folder) : [], [], 'no file left behind');
    await h.compositionEvent('composition.deleted', id);
    assert.equal(h.events.filter((e) => e.type === 'composition.failed').length, 0);
  });

  it('close() leaves a running job queued; after a crash mid-job the next start runs it again', async () => {
    const archive = h.createArchive(
      [{ source: src('busy.webm'), streamId: 'busy', start: 0, stop: 20_000 }],
      {
        outputMode: 'individual',
      },
    );
    h.stop(archive.id);
    const created = await h.request<CompositionJson>('POST', '/api/compositions', { archiveId: archive.id });
    const id = created.body.id;
    await h.compositionEvent('composition.started', id);
    await h.service.close();
    await h.service.close();
    assert.equal(h.service.closed, true);
    assert.equal(h.service.repo.get(id)!.status, 'enqueued', 'left re-runnable');
    assert.deepEqual(processesMentioning(id), [], 'ffmpeg was killed');

    // A crash leaves the row `processing`, as if the studio died while ffmpeg ran.
    h.store.db.prepare("UPDATE compositions SET status = 'processing' WHERE id = ?").run(id);
    await h.restart();
    await h.compositionEvent('composition.available', id, 60_000);
    const record = h.service.repo.get(id)!;
    assert.equal(record.status, 'completed');
    assert.equal(record.attempts, 2);
    assert.ok(existsSync(join(dir.path, 'archives', archive.id, record.filename!)));
  });

  it('runs one job at a time by default, in the order they were queued', async () => {
    const archive = h.createArchive(twoColours(), { outputMode: 'individual' });
    h.stop(archive.id);
    const first = await h.request<CompositionJson>('POST', '/api/compositions', { archiveId: archive.id });
    const second = await h.request<CompositionJson>('POST', '/api/compositions', {
      archiveId: archive.id,
      videoLayout: 'pip',
    });
    await h.compositionEvent('composition.available', second.body.id);
    const order = h.events
      .filter((e) => e.type === 'composition.started' || e.type === 'composition.available')
      .map(
        (e) =>
          `${e.type.split('.')[1]}:${(e.data as { compositionId: string }).compositionId === first.body.id ? 1 : 2}`,
      );
    assert.deepEqual(order, ['started:1', 'available:1', 'started:2', 'available:2']);
  });

  it('manages composition hooks over HTTP', async () => {
    const created = await h.request<CompositionHookJson>('POST', '/api/composition-hooks', {
      friendlyName: 'Everything',
      videoLayout: { type: 'verticalPresentation' },
      resolution: '1280x720',
    });
    assert.equal(created.status, 201);
    assert.equal(created.body.enabled, true);
    assert.equal(created.body.roomId, null);
    assert.deepEqual(created.body.videoLayout, { type: 'verticalPresentation' });
    const id = created.body.id;
    const listed = await h.request<{ count: number; items: CompositionHookJson[] }>(
      'GET',
      '/api/composition-hooks',
    );
    assert.equal(listed.body.count, 1);
    const patched = await h.request<CompositionHookJson>('PATCH', `/api/composition-hooks/${id}`, {
      format: 'webm',
      enabled: false,
    });
    assert.equal(patched.status, 200);
    assert.equal(patched.body.videoCodec, 'vp8', 'a new container takes its default codec');
    assert.equal(patched.body.enabled, false);
    assert.equal(patched.body.resolution, '1280x720', 'other fields are kept');
    const bad = await h.request<{ field: string }>('PATCH', `/api/composition-hooks/${id}`, {
      videoLayout: { main: { x_pos: 1280, video_sources: ['*'] } },
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'videoLayout.main.x_pos');
    const invalid = await h.request<{ field: string }>('POST', '/api/composition-hooks', {
      videoLayout: 'pip',
    });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body.field, 'friendlyName');
    assert.equal((await h.request('GET', `/api/composition-hooks/${id}`)).status, 200);
    assert.equal((await h.request('DELETE', `/api/composition-hooks/${id}`)).status, 204);
    assert.equal((await h.request('GET', `/api/composition-hooks/${id}`)).status, 404);
    assert.equal((await h.request('DELETE', `/api/composition-hooks/${id}`)).status, 404);
  });
});
