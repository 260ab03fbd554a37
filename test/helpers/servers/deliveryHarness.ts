import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, mkdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { ArchiveFileKind } from '../../../src/main/store/ArchiveRepository';
import { ArchiveRepository } from '../../../src/main/store/ArchiveRepository';
import type { StudioConfig } from '../../../src/main/config/loadConfig';
import { settingsSchema, type Settings } from '../../../src/main/config/schema';
import { DeliveryService } from '../../../src/main/delivery/DeliveryService';
import { deliveryRoutes } from '../../../src/main/http/routes/deliveries';
import { ArchiveStatus } from '../../../src/main/events/ArchiveStatus';
import { EventBus } from '../../../src/main/events/EventBus';
import { HttpServer, type RouteModule } from '../../../src/main/http/HttpServer';
import { Auth } from '../../../src/main/security/Auth';
import { loadOrCreateKey } from '../../../src/main/security/keys';
import { SecretBox } from '../../../src/main/security/SecretBox';
import { EventRepository } from '../../../src/main/store/EventRepository';
import { Store } from '../../../src/main/store/Store';
import { WebhookService } from '../../../src/main/webhooks/WebhookService';
import { webhookRoutes } from '../../../src/main/http/routes/webhooks';
import type { AnyStudioEvent } from '../../../src/shared/events';
import { TEST_CREDENTIALS } from '../headless';

/** Settings with the test credentials and fast retries; `overrides` change any field. */
export function testSettings(overrides: Partial<Settings> = {}): Settings {
  return settingsSchema.parse({
    apiKey: TEST_CREDENTIALS.SPOOL_API_KEY,
    apiSecret: TEST_CREDENTIALS.SPOOL_API_SECRET,
    operatorPassword: TEST_CREDENTIALS.SPOOL_OPERATOR_PASSWORD,
    filesPassword: TEST_CREDENTIALS.SPOOL_FILES_PASSWORD,
    logLevel: 'debug',
    deliveryBackoffBaseSec: 0,
    deliveryBackoffMaxSec: 1,
    webhookBackoffBaseSec: 0,
    webhookBackoffMaxSec: 1,
    // The test servers listen on 127.0.0.1.
    webhooksAllowPrivateNetwork: true,
    ...overrides,
  });
}

/** A file written for an archive: where it is and its checksum. */
export interface WrittenFile {
  filename: string;
  path: string;
  size: number;
  sha256: string;
}

/**
 * Writes `size` bytes quickly: one random MiB repeated, each copy stamped with its index, so
 * that a part landing at the wrong offset changes the checksum.
 */
export async function writeTestFile(path: string, size: number): Promise<string> {
  mkdirSync(dirname(path), { recursive: true });
  const block = randomBytes(1 << 20);
  const hash = createHash('sha256');
  const file = await open(path, 'w');
  try {
    for (let offset = 0, i = 0; offset < size; offset += block.length, i++) {
      block.writeUInt32BE(i, 0);
      const chunk = block.subarray(0, Math.min(block.length, size - offset));
      hash.update(chunk);
      await file.write(chunk, 0, chunk.length, offset);
    }
  } finally {
    await file.close();
  }
  return hash.digest('hex');
}

/** sha256 of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export interface HarnessOptions {
  /** Data folder; pass the same one again to restart on the same store. */
  dataDir: string;
  settings?: Partial<Settings>;
  /** Serve the delivery and webhook routes over HTTP on 127.0.0.1. */
  http?: boolean;
  /** Start the services (default true). */
  start?: boolean;
  /** More routes for the HTTP server, built once the services exist. */
  routes?: (harness: DeliveryHarness) => RouteModule[];
}

/**
 * The delivery and webhook services on a real store, bus and HTTP server, as the composition
 * root builds them, with every log line captured so tests can look for leaked secrets.
 */
export class DeliveryHarness {
  readonly dataDir: string;
  readonly settings: Settings;
  readonly store: Store;
  readonly bus: EventBus;
  readonly archives: ArchiveRepository;
  readonly archiveStatus: ArchiveStatus;
  readonly delivery: DeliveryService;
  readonly webhooks: WebhookService;
  readonly logger: Logger;
  readonly auth: Auth;
  /** Every log line written so far (JSON). */
  readonly logLines: string[] = [];
  /** Every event published so far (persisted or not). */
  readonly events: AnyStudioEvent[] = [];
  http: HttpServer | null = null;
  readonly #routes: HarnessOptions['routes'];
  #closed = false;

  constructor(options: HarnessOptions) {
    this.dataDir = options.dataDir;
    this.#routes = options.routes;
    this.settings = testSettings(options.settings);
    const lines = this.logLines;
    this.logger = pino(
      { level: 'debug', base: undefined },
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          lines.push(
            ...chunk
              .toString()
              .split('\n')
              .filter((l) => l !== ''),
          );
          callback();
        },
      }),
    );
    this.store = new Store({ path: join(this.dataDir, 'studio.db') });
    this.bus = new EventBus(new EventRepository(this.store.db), this.logger);
    this.bus.on('event', (event) => this.events.push(event));
    this.archives = new ArchiveRepository(this.store.db);
    this.archiveStatus = new ArchiveStatus(this.archives, this.bus, {
      apiKey: this.settings.apiKey,
      baseUrl: 'http://127.0.0.1:7480',
    });
    const encryptor = SecretBox.forDataDir(this.dataDir);
    this.delivery = new DeliveryService({
      db: this.store.db,
      bus: this.bus,
      archiveStatus: this.archiveStatus,
      logger: this.logger.child({ part: 'delivery' }),
      settings: this.settings,
      dataDir: this.dataDir,
      encryptor,
    });
    this.webhooks = new WebhookService({
      db: this.store.db,
      bus: this.bus,
      logger: this.logger.child({ part: 'webhooks' }),
      settings: this.settings,
      encryptor,
    });
    this.auth = new Auth({
      apiKey: this.settings.apiKey,
      apiSecret: this.settings.apiSecret,
      operatorPassword: this.settings.operatorPassword,
      operatorKey: loadOrCreateKey(this.dataDir, 'operator'),
    });
    if (options.start !== false) this.startServices();
  }

  /** Starts the delivery and webhook services (the constructor does unless `start: false`). */
  startServices(): void {
    this.delivery.start();
    this.webhooks.start();
  }

  /** Starts the harness, with an HTTP server when asked. */
  static async start(options: HarnessOptions): Promise<DeliveryHarness> {
    const harness = new DeliveryHarness(options);
    if (options.http === true) await harness.listen();
    return harness;
  }

  async listen(): Promise<string> {
    const config: StudioConfig = {
      dataDir: this.dataDir,
      settingsPath: join(this.dataDir, 'settings.json'),
      settings: this.settings,
      generated: [],
    };
    this.http = new HttpServer(
      {
        config,
        logger: this.logger,
        bus: this.bus,
        auth: this.auth,
        health: async () => {
          throw new Error('not in this harness');
        },
        info: () => {
          throw new Error('not in this harness');
        },
        rendererDir: null,
        listenerPorts: () => [this.http?.port ?? 0],
      },
      {
        host: '127.0.0.1',
        port: 0,
        routes: [
          deliveryRoutes(this.delivery),
          webhookRoutes(this.webhooks),
          ...(this.#routes?.(this) ?? []),
        ],
      },
    );
    await this.http.listen();
    return this.url;
  }

  get url(): string {
    return `http://127.0.0.1:${this.http?.port ?? 0}`;
  }

  /** An operator bearer token for the HTTP API. */
  async token(): Promise<string> {
    return (await this.auth.issueOperatorToken(3600)).token;
  }

  /**
   * Records an archive of a room with files on disk (stopped), as the recorder would; call
   * `available()` to hand it to delivery.
   */
  async createArchive(
    files: Array<{ filename: string; size: number; kind?: ArchiveFileKind }>,
    options: { roomId?: string; name?: string } = {},
  ): Promise<{ id: string; roomId: string; files: WrittenFile[] }> {
    const id = randomUUID();
    const roomId = options.roomId ?? `room-${randomUUID().slice(0, 8)}`;
    const now = Date.now();
    this.archives.insert({
      id,
      roomId,
      sessionId: null,
      name: options.name ?? 'Test archive',
      status: 'stopped',
      reason: 'user initiated',
      outputMode: 'individual',
      streamMode: 'auto',
      hasAudio: true,
      hasVideo: true,
      resolution: null,
      multiArchiveTag: null,
      format: 'webm',
      options: {},
      size: files.reduce((sum, f) => sum + f.size, 0),
      duration: 10,
      expireAt: null,
      createdAt: now,
      stoppedAt: now,
      updatedAt: now,
    });
    const written: WrittenFile[] = [];
    for (const file of files) {
      const path = join(this.dataDir, 'archives', id, file.filename);
      const sha256 = await writeTestFile(path, file.size);
      const kind =
        file.kind ??
        (file.filename === 'manifest.json'
          ? 'manifest'
          : file.filename.startsWith('split/')
            ? 'split'
            : 'media');
      this.archives.upsertFile({
        archiveId: id,
        streamId:
          kind === 'media' || kind === 'split'
            ? file.filename.replace(/^split\//, '').replace(/\..*$/, '')
            : null,
        filename: file.filename,
        kind,
        size: file.size,
        startOffsetMs: 0,
        stopOffsetMs: 1000,
        info: {},
      });
      written.push({ filename: file.filename, path, size: file.size, sha256 });
    }
    return { id, roomId, files: written };
  }

  /** Marks an archive available (publishes `archive.available`, which queues its deliveries). */
  available(archiveId: string): void {
    this.archiveStatus.set(archiveId, 'available');
  }

  /** Resolves with the first event (published from now on) that `predicate` accepts. */
  nextEvent(predicate: (event: AnyStudioEvent) => boolean, timeoutMs = 30_000): Promise<AnyStudioEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.bus.off('event', listener);
        reject(new Error(`no matching event within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = (event: AnyStudioEvent) => {
        if (!predicate(event)) return;
        clearTimeout(timer);
        this.bus.off('event', listener);
        resolve(event);
      };
      this.bus.on('event', listener);
    });
  }

  /** Waits until the archive has this status (checks now, then on each archive event). */
  async archiveReaches(archiveId: string, status: string, timeoutMs = 60_000): Promise<void> {
    if (this.archives.get(archiveId)?.status === status) return;
    try {
      await this.nextEvent((e) => e.archiveId === archiveId && e.type === `archive.${status}`, timeoutMs);
    } catch (error) {
      // Name where each delivery stands, so a timeout says which target held it up and why.
      const deliveries = this.delivery
        .list({ archiveId })
        .map((d) => `${d.targetName} ${d.file}: ${d.status} ${JSON.stringify(d.lastError)}`);
      throw new Error(
        `archive ${archiveId} did not reach ${status}: ${(error as Error).message}\n${deliveries.join('\n')}`,
      );
    }
  }

  /** Closes the services, HTTP server and store, as the composition root does. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.http?.close();
    await this.webhooks.close();
    await this.delivery.close();
    this.bus.close();
    this.store.close();
  }
}
