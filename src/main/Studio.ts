import { statfs } from 'node:fs/promises';
import type { FastifyRequest } from 'fastify';
import { join } from 'node:path';
import type { DiskReport, Health, StudioInfo, ThreadStats } from '../shared/api';
import { DiskMonitor } from './disk/DiskMonitor';
import type { OpenSink } from './recording/MatroskaWriter';
import { DataLock } from './store/DataLock';
import { APP_VERSION, DEFAULT_RENDERER_DIR } from './appInfo';
import { loadConfig, type LoadConfigOptions, type StudioConfig } from './config/loadConfig';
import { EventBus } from './events/EventBus';
import type { HttpContext } from './http/context';
import { HttpServer, type RouteModule } from './http/HttpServer';
import { CompositionService } from './composition/CompositionService';
import { compositionRoutes } from './http/routes/compositions';
import { DeliveryService } from './delivery/DeliveryService';
import { deliveryRoutes } from './http/routes/deliveries';
import { archiveRoutes } from './http/routes/archives';
import { fileRoutes } from './http/routes/files';
import { streamRoutes } from './http/routes/streams';
import { roomRoutes } from './http/routes/rooms';
import { studioRoutes } from './http/routes/studio';
import { createLogger, type Logger } from './logger';
import { describeFfmpeg, resolveFfmpeg, type Ffmpeg } from './media/ffmpeg';
import { PosterMaker } from './media/PosterMaker';
import { archiveSummaryRoutes } from './http/routes/archiveSummaries';
import { HealthMonitor } from './rooms/HealthMonitor';
import { loadLocalMedia, type LocalMedia } from './rooms/loadLocalMedia';
import { RoomService } from './rooms/RoomService';
import { Auth } from './security/Auth';
import { LoginThrottle } from './security/LoginThrottle';
import { loadOrCreateCertificate, type TlsMaterial } from './security/certificate';
import { loadOrCreateKey } from './security/keys';
import { SignedLinks } from './security/SignedLinks';
import { SecretBox, type Encryptor } from './security/SecretBox';
import { WebhookService } from './webhooks/WebhookService';
import { webhookRoutes } from './http/routes/webhooks';
import { ArchiveStatus } from './events/ArchiveStatus';
import { RecordingService } from './recording/RecordingService';
import { ArchiveRepository } from './store/ArchiveRepository';
import { EventRepository } from './store/EventRepository';
import { EventRetention } from './events/EventRetention';
import { LayoutRepository } from './store/LayoutRepository';
import { Store } from './store/Store';
import { mainThreadStats, WorkerPool } from './workers/WorkerPool';

export interface StudioOptions extends LoadConfigOptions {
  /** Logger to use (default: one at the configured level). */
  logger?: Logger;
  /** Built renderer to serve; null serves none. */
  rendererDir?: string | null;
  /** Encrypts stored credentials (Electron passes safeStorage); default: a key file in the data folder. */
  encryptor?: Encryptor;
  /** Opens recording files (tests and benchmarks inject a slow disk). */
  openSink?: OpenSink;
  /** How long a shutdown waits for recordings to finalize before leaving them to crash recovery (ms). */
  shutdownDeadlineMs?: number;
  /**
   * Start one media worker before the services and, if it cannot start, run the media plane on
   * the main thread (as `mediaWorkers: 0`) with an error that says why, instead of a studio whose
   * guests cannot join. Default: in Electron (a packaged app's loader is where a worker's entry
   * may fail to load); elsewhere workers start when media first needs them.
   */
  probeMediaWorkers?: boolean;
  /** The media worker's entry (default: the built or source one beside this code; tests). */
  mediaWorkerEntry?: URL;
}

/** Free and total bytes of the file system holding `path`. */
export async function diskInfo(
  path: string,
): Promise<{ path: string; freeBytes: number; totalBytes: number }> {
  const stats = await statfs(path);
  return { path, freeBytes: stats.bavail * stats.bsize, totalBytes: stats.blocks * stats.bsize };
}

/** What the async part of start-up resolves before the services are built. */
interface Prerequisites {
  config: StudioConfig;
  logger: Logger;
  ffmpeg: Ffmpeg | Error;
  rendererDir: string | null;
  tls: TlsMaterial | null;
  encryptor: Encryptor;
  lock: DataLock;
  openSink: OpenSink | undefined;
  shutdownDeadlineMs: number;
  /** The media plane on the main thread, loaded when there are no media workers. */
  local: LocalMedia | null;
  /** The media worker threads (`mediaWorkers` > 0 and, when probed, able to start), or null. */
  media: WorkerPool | null;
}

/**
 * The composition root: builds every service from the config, in dependency order, and closes
 * them in reverse. Both entries (Electron and headless) start the core through this class.
 */
export class Studio {
  readonly config: StudioConfig;
  readonly logger: Logger;
  readonly store: Store;
  readonly bus: EventBus;
  readonly auth: Auth;
  /**
   * The media worker threads (`mediaWorkers` > 0), or null: the media plane runs on this thread.
   * They start when media first needs them (`RoomService.mediaReady`), not with the studio.
   */
  readonly media: WorkerPool | null;
  readonly rooms: RoomService;
  /** Connection health of every published stream, pushed as `health.streams` about 1 Hz. */
  readonly streamHealth: HealthMonitor;
  readonly archives: ArchiveStatus;
  /** Signed, expiring download links (archive `url`, file links). */
  readonly links: SignedLinks;
  readonly recording: RecordingService;
  readonly composition: CompositionService;
  readonly delivery: DeliveryService;
  readonly webhooks: WebhookService;
  /** Keeps the events table (the outbox) bounded once its readers are done with an event. */
  readonly eventRetention: EventRetention;
  /** Poster frames of available archives, for the archive list and the player. */
  readonly posters: PosterMaker;
  /** Free space of the data folder's disk: warns, and stops recording when it fills. */
  readonly disk: DiskMonitor;
  /** The plain HTTP listener (loopback by default): API, operator UI, guests on this machine. */
  readonly http: HttpServer;
  /** The HTTPS listener on the LAN address, for guests on other machines. */
  readonly https: HttpServer | null;
  readonly startedAt = Date.now();
  readonly #ffmpeg: Ffmpeg | Error;
  readonly #tls: TlsMaterial | null;
  readonly #lock: DataLock;
  readonly #shutdownDeadlineMs: number;
  #healthTimer: NodeJS.Timeout | null = null;
  #closed = false;
  #closing: Promise<void> | null = null;

  private constructor(pre: Prerequisites) {
    const { config, logger } = pre;
    this.config = config;
    this.logger = logger;
    this.#ffmpeg = pre.ffmpeg;
    this.#tls = pre.tls;
    this.#lock = pre.lock;
    this.#shutdownDeadlineMs = pre.shutdownDeadlineMs;
    const { settings, dataDir } = config;
    this.store = new Store({ path: join(dataDir, 'studio.db') });
    this.bus = new EventBus(new EventRepository(this.store.db), logger.child({ part: 'events' }));
    this.auth = new Auth({
      apiKey: settings.apiKey,
      apiSecret: settings.apiSecret,
      // Read at each use: a password changed in the settings revokes the tokens issued before.
      operatorPassword: () => settings.operatorPassword,
      operatorKey: loadOrCreateKey(dataDir, 'operator'),
      throttle: new LoginThrottle(() => settings.loginFailuresPerMinute),
    });
    this.media = pre.media;
    this.rooms = new RoomService({
      db: this.store.db,
      bus: this.bus,
      logger: logger.child({ part: 'rooms' }),
      settings,
      joinKey: loadOrCreateKey(dataDir, 'join'),
      network: { lanAddress: settings.lanAddress, portRange: null },
      urls: () => ({ http: this.url, lan: this.lanUrl }),
      media: this.media,
      local: pre.local,
    });
    this.streamHealth = new HealthMonitor({ rooms: this.rooms, bus: this.bus, local: pre.local });

    this.archives = new ArchiveStatus(new ArchiveRepository(this.store.db), this.bus, {
      apiKey: settings.apiKey,
      baseUrl: '',
    });
    this.links = new SignedLinks(loadOrCreateKey(dataDir, 'links'), () => settings.signedLinkTtlSec);
    this.archives.links = this.links;
    this.recording = new RecordingService({
      db: this.store.db,
      bus: this.bus,
      logger: logger.child({ part: 'recording' }),
      settings,
      dataDir,
      rooms: this.rooms,
      media: this.media,
      local: pre.local,
      archiveStatus: this.archives,
      ffmpeg: () => this.#ffmpeg,
      refusal: () => this.disk.refusal(),
      onWriteError: (detail) => this.disk.writeFailed(detail),
      ...(pre.openSink ? { openSink: pre.openSink } : {}),
    });
    this.disk = new DiskMonitor({
      dataDir,
      bus: this.bus,
      logger: logger.child({ part: 'disk' }),
      warnBytes: settings.diskWarnBytes,
      floorBytes: settings.diskFloorBytes,
      reserveBytes: settings.diskReserveBytes,
      intervalMs: settings.diskCheckIntervalMs,
      bytesWritten: () => this.recording.writtenBytes,
      onFull: (detail) => void this.recording.stopAll('failure', detail),
      onClear: () => this.recording.resumeWrites(),
    });

    this.composition = new CompositionService({
      db: this.store.db,
      bus: this.bus,
      archiveStatus: this.archives,
      logger: logger.child({ part: 'composition' }),
      settings,
      dataDir,
      ffmpeg: pre.ffmpeg,
      live: settings.liveCompositionChunkSec > 0 ? { chunkSec: settings.liveCompositionChunkSec } : false,
    });
    this.delivery = new DeliveryService({
      db: this.store.db,
      bus: this.bus,
      archiveStatus: this.archives,
      logger: logger.child({ part: 'delivery' }),
      settings,
      dataDir,
      encryptor: pre.encryptor,
    });
    this.webhooks = new WebhookService({
      db: this.store.db,
      bus: this.bus,
      logger: logger.child({ part: 'webhooks' }),
      settings,
      encryptor: pre.encryptor,
      version: APP_VERSION,
    });
    this.eventRetention = new EventRetention({
      events: new EventRepository(this.store.db),
      logger: logger.child({ part: 'events' }),
      settings,
    });

    this.posters = new PosterMaker({
      bus: this.bus,
      archives: this.archives.repo,
      archiveDir: (id) => this.recording.archiveDir(id),
      ffmpeg: () => this.#ffmpeg,
      logger: logger.child({ part: 'posters' }),
    });

    const ctx: HttpContext = {
      config,
      logger,
      bus: this.bus,
      auth: this.auth,
      health: () => this.health(),
      info: () => this.info(),
      threads: () => this.threads(),
      rendererDir: pre.rendererDir,
      listenerPorts: () => [this.http.port, ...(this.https !== null ? [this.https.port] : [])],
    };
    const routes: RouteModule[] = [
      roomRoutes(this.rooms),
      archiveRoutes(this.recording, this.rooms),
      streamRoutes(this.rooms),
      fileRoutes(this.recording, this.archives.repo, this.links),
      studioRoutes({
        archives: this.archives.repo,
        layouts: new LayoutRepository(this.store.db),
        links: this.links,
        recording: this.recording,
        baseUrl: () => this.url,
      }),
      compositionRoutes(this.composition, this.webhooks),
      deliveryRoutes(this.delivery),
      webhookRoutes(this.webhooks),
      archiveSummaryRoutes({
        archives: this.archives.repo,
        deliveries: this.delivery.repo,
        posters: this.posters,
        archiveDir: (id) => this.recording.archiveDir(id),
      }),
    ];
    // Signed download links: path, expiry and signature checked in the access gate.
    const verifiers = {
      signedLink: async (request: FastifyRequest) => {
        const query = request.query as { expires?: unknown; signature?: unknown } | undefined;
        this.links.verify(request.url.split('?')[0]!, query?.expires, query?.signature);
        return undefined;
      },
    };
    this.http = new HttpServer(ctx, {
      host: settings.bindAddress,
      port: settings.httpPort,
      routes,
      verifiers,
    });
    this.https =
      pre.tls !== null && settings.lanAddress !== null
        ? new HttpServer(ctx, {
            host: settings.lanAddress,
            port: settings.httpsPort,
            https: { key: pre.tls.key, cert: pre.tls.cert },
            routes,
            verifiers,
          })
        : null;
  }

  /** Loads the config, opens the store, starts every service and listens. */
  static async start(options: StudioOptions = {}): Promise<Studio> {
    // Files the studio creates (media, database, keys) are readable by this user only (0600/0700).
    if (process.platform !== 'win32') process.umask(0o077);
    const config = loadConfig(options);
    const logger = options.logger ?? createLogger({ level: config.settings.logLevel });
    const ffmpeg = await resolveFfmpeg(config.settings.ffmpegPath, options.env ?? process.env).catch(
      (error: Error) => error,
    );
    if (ffmpeg instanceof Error) logger.warn(ffmpeg.message);
    const lan = config.settings.lanAddress;
    // One studio per data folder: a second one would "recover" what the first is recording.
    const lock = DataLock.acquire(config.dataDir);
    let studio: Studio;
    try {
      const tls = lan === null ? null : await loadOrCreateCertificate(config.dataDir, lan);
      const { mediaWorkers, logLevel } = config.settings;
      let media =
        mediaWorkers > 0
          ? new WorkerPool({
              size: mediaWorkers,
              logger: logger.child({ part: 'media' }),
              logLevel,
              ...(options.mediaWorkerEntry !== undefined ? { entry: options.mediaWorkerEntry } : {}),
            })
          : null;
      if (media !== null && (options.probeMediaWorkers ?? process.versions.electron !== undefined)) {
        const failure = await media.probe();
        if (failure !== null) {
          logger.error(
            { reason: failure, mediaWorkers },
            'media workers cannot start: the media plane runs on the main thread',
          );
          await media.close();
          media = null;
        }
      }
      // With media workers the main thread never loads werift (docs/threads.md).
      const local = media !== null ? null : await loadLocalMedia();
      studio = new Studio({
        config,
        logger,
        ffmpeg,
        tls,
        rendererDir: options.rendererDir === undefined ? DEFAULT_RENDERER_DIR : options.rendererDir,
        encryptor: options.encryptor ?? SecretBox.forDataDir(config.dataDir),
        lock,
        openSink: options.openSink,
        shutdownDeadlineMs: options.shutdownDeadlineMs ?? 30_000,
        local,
        media,
      });
    } catch (error) {
      lock.release();
      throw error;
    }
    try {
      await studio.disk.start();
      await studio.http.listen();
      await studio.https?.listen();
    } catch (error) {
      await studio.close();
      throw error;
    }
    studio.archives.baseUrl = studio.url;
    studio.webhooks.start();
    studio.delivery.start();
    studio.composition.start();
    // Once the outbox's readers caught up on what a restart left them.
    void studio.eventRetention
      .sweep()
      .catch((error: unknown) => logger.error({ err: error }, 'event retention sweep failed'));
    // Archives a crash interrupted are finalized once every service listens for their events.
    const recovered = await studio.recording.recover();
    if (recovered.length > 0)
      logger.warn({ archives: recovered }, 'archives interrupted by a crash were recovered');
    studio.bus.publish('studio.started', { version: APP_VERSION });
    studio.#healthTimer = setInterval(() => studio.#publishHealth(), 5000);
    studio.#healthTimer.unref();
    logger.info({ url: studio.url, lanUrl: studio.lanUrl, dataDir: config.dataDir }, 'studio started');
    return studio;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The plain HTTP base URL. */
  get url(): string {
    const host =
      this.config.settings.bindAddress === '0.0.0.0' ? '127.0.0.1' : this.config.settings.bindAddress;
    return `http://${host.includes(':') ? `[${host}]` : host}:${this.http.port}`;
  }

  /** The HTTPS base URL guests on the LAN use, when a LAN address is configured. */
  get lanUrl(): string | null {
    if (this.https === null) return null;
    const host = this.config.settings.lanAddress!;
    return `https://${host.includes(':') ? `[${host}]` : host}:${this.https.port}`;
  }

  /** The ffmpeg in use, or the error that says why there is none. */
  get ffmpeg(): Ffmpeg | Error {
    return this.#ffmpeg;
  }

  /** The public health answer: status and versions, never a path (those are in `info()`). */
  async health(): Promise<Health> {
    const ffmpeg = describeFfmpeg(this.#ffmpeg);
    const disk = await diskInfo(this.config.dataDir);
    return {
      status: 'ok',
      version: APP_VERSION,
      uptimeSec: Math.round((Date.now() - this.startedAt) / 1000),
      ffmpeg: { found: ffmpeg.found, ...(ffmpeg.version !== undefined ? { version: ffmpeg.version } : {}) },
      disk: { freeBytes: disk.freeBytes, totalBytes: disk.totalBytes, level: this.disk.level },
    };
  }

  /** The data folder's disk: level, free space, thresholds, write rate and queue. */
  diskReport(): DiskReport {
    const { level, freeBytes, totalBytes, warnBytes, floorBytes, writeRate, reserveHeld, detail } =
      this.disk.status;
    return {
      level,
      freeBytes,
      totalBytes,
      warnBytes,
      floorBytes,
      writeRate,
      reserveHeld,
      queuedBytes: this.recording.queuedBytes,
      peakQueuedBytes: this.recording.peakQueuedBytes,
      ...(detail !== undefined ? { detail } : {}),
    };
  }

  /** Memory and load of every thread: the main thread, and the media workers when there are. */
  async threads(): Promise<ThreadStats[]> {
    return this.media === null ? [mainThreadStats()] : this.media.stats();
  }

  info(): StudioInfo {
    return {
      version: APP_VERSION,
      apiKey: this.config.settings.apiKey,
      dataDir: this.config.dataDir,
      ffmpeg: describeFfmpeg(this.#ffmpeg),
      httpUrl: this.url,
      lanUrl: this.lanUrl,
      certificateFingerprint: this.#tls?.fingerprint ?? null,
      disk: this.diskReport(),
    };
  }

  #publishHealth(): void {
    diskInfo(this.config.dataDir)
      .then((disk) =>
        this.bus.publish(
          'studio.health',
          { freeBytes: disk.freeBytes, uptimeSec: Math.round((Date.now() - this.startedAt) / 1000) },
          { persist: false },
        ),
      )
      .catch((error: unknown) => this.logger.warn({ err: error }, 'cannot read free disk space'));
  }

  /**
   * The ordered shutdown (SIGTERM, SIGINT, Electron quit): no new joins or archives, every
   * recording stopped and finalized (manifest, `stopped` → `available`), then peers, HTTP and
   * the other services in reverse order of creation. Recordings that are not final within the
   * deadline are left on disk for crash recovery at the next start. Idempotent.
   */
  shutdown(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      if (this.#healthTimer !== null) clearInterval(this.#healthTimer);
      const log = (what: string) => (error: unknown) =>
        this.logger.error({ err: error }, `closing ${what} failed`);
      this.rooms.stopIntake();
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), this.#shutdownDeadlineMs);
      });
      const finalized = await Promise.race([this.recording.close().catch(log('recording')), deadline]);
      clearTimeout(timer);
      if (finalized === 'late')
        this.logger.error(
          { deadlineMs: this.#shutdownDeadlineMs },
          'recordings were not finalized in time; they will be recovered at the next start',
        );
      this.disk.close();
      await this.https?.close().catch(log('https'));
      await this.http.close().catch(log('http'));
      await this.composition.close().catch(log('composition'));
      await this.delivery.close().catch(log('delivery'));
      await this.webhooks.close().catch(log('webhooks'));
      this.eventRetention.close();
      this.posters.close();
      this.streamHealth.close();
      this.rooms.close();
      await this.media?.close().catch(log('media workers'));
      this.bus.close();
      this.store.close();
      this.#lock.release();
      this.logger.info('studio closed');
      this.logger.flush();
    })();
    return this.#closing;
  }

  /** Same as `shutdown()`. */
  close(): Promise<void> {
    return this.shutdown();
  }
}
