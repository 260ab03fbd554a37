import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { DiskInfo, Health, StudioInfo } from '../shared/api';
import { APP_VERSION, DEFAULT_RENDERER_DIR } from './appInfo';
import { loadConfig, type LoadConfigOptions, type StudioConfig } from './config/loadConfig';
import { EventBus } from './events/EventBus';
import type { HttpContext } from './http/context';
import { HttpServer } from './http/HttpServer';
import { createLogger, type Logger } from './logger';
import { describeFfmpeg, resolveFfmpeg, type Ffmpeg } from './media/ffmpeg';
import { Auth } from './security/Auth';
import { loadOrCreateKey } from './security/keys';
import { EventRepository } from './store/EventRepository';
import { Store } from './store/Store';

export interface StudioOptions extends LoadConfigOptions {
  /** Logger to use (default: one at the configured level). */
  logger?: Logger;
  /** Built renderer to serve; null serves none. */
  rendererDir?: string | null;
}

/** Free and total bytes of the file system holding `path`. */
export async function diskInfo(path: string): Promise<DiskInfo> {
  const stats = await statfs(path);
  return { path, freeBytes: stats.bavail * stats.bsize, totalBytes: stats.blocks * stats.bsize };
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
  readonly http: HttpServer;
  readonly startedAt = Date.now();
  #ffmpeg: Ffmpeg | Error;
  #healthTimer: NodeJS.Timeout | null = null;
  #closed = false;
  #closing: Promise<void> | null = null;

  private constructor(
    config: StudioConfig,
    logger: Logger,
    ffmpeg: Ffmpeg | Error,
    rendererDir: string | null,
  ) {
    this.config = config;
    this.logger = logger;
    this.#ffmpeg = ffmpeg;
    const { settings, dataDir } = config;
    this.store = new Store({ path: join(dataDir, 'studio.db') });
    this.bus = new EventBus(new EventRepository(this.store.db), logger.child({ part: 'events' }));
    this.auth = new Auth({
      apiKey: settings.apiKey,
      apiSecret: settings.apiSecret,
      operatorPassword: settings.operatorPassword,
      operatorKey: loadOrCreateKey(dataDir, 'operator'),
    });
    const ctx: HttpContext = {
      config,
      logger,
      bus: this.bus,
      auth: this.auth,
      health: () => this.health(),
      info: () => this.info(),
      rendererDir,
    };
    this.http = new HttpServer(ctx, { host: settings.bindAddress, port: settings.httpPort });
  }

  /** Loads the config, opens the store, starts every service and listens. */
  static async start(options: StudioOptions = {}): Promise<Studio> {
    const config = loadConfig(options);
    const logger = options.logger ?? createLogger({ level: config.settings.logLevel });
    const ffmpeg = await resolveFfmpeg(config.settings.ffmpegPath, options.env ?? process.env).catch(
      (error: Error) => error,
    );
    if (ffmpeg instanceof Error) logger.warn(ffmpeg.message);
    const studio = new Studio(
      config,
      logger,
      ffmpeg,
      options.rendererDir === undefined ? DEFAULT_RENDERER_DIR : options.rendererDir,
    );
    try {
      await studio.http.listen();
    } catch (error) {
      await studio.close();
      throw error;
    }
    studio.bus.publish('studio.started', { version: APP_VERSION });
    studio.#healthTimer = setInterval(() => {
      diskInfo(config.dataDir)
        .then((disk) =>
          studio.bus.publish(
            'studio.health',
            { freeBytes: disk.freeBytes, uptimeSec: Math.round((Date.now() - studio.startedAt) / 1000) },
            { persist: false },
          ),
        )
        .catch((error: unknown) => logger.warn({ err: error }, 'cannot read free disk space'));
    }, 5000);
    studio.#healthTimer.unref();
    logger.info({ url: studio.url, dataDir: config.dataDir }, 'studio started');
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

  /** The ffmpeg in use, or the error that says why there is none. */
  get ffmpeg(): Ffmpeg | Error {
    return this.#ffmpeg;
  }

  async health(): Promise<Health> {
    return {
      status: 'ok',
      version: APP_VERSION,
      uptimeSec: Math.round((Date.now() - this.startedAt) / 1000),
      ffmpeg: describeFfmpeg(this.#ffmpeg),
      disk: await diskInfo(this.config.dataDir),
    };
  }

  info(): StudioInfo {
    return {
      version: APP_VERSION,
      apiKey: this.config.settings.apiKey,
      dataDir: this.config.dataDir,
      httpUrl: this.url,
      lanUrl: null,
      certificateFingerprint: null,
    };
  }

  /** Closes every service in reverse order of creation. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      await this.http
        .close()
        .catch((error: unknown) => this.logger.error({ err: error }, 'closing http failed'));
      this.bus.close();
      this.store.close();
      this.logger.info('studio closed');
      this.logger.flush();
    })();
    return this.#closing;
  }
}
