import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArchiveStatus } from '../events/ArchiveStatus';
import type { Settings } from '../config/schema';
import type { Logger } from '../logger';
import type { DeliveryRepository } from '../store/DeliveryRepository';
import { guarded } from '../util/guarded';

export interface RetentionSweeperOptions {
  deliveries: DeliveryRepository;
  archiveStatus: ArchiveStatus;
  logger: Logger;
  /** `<data>/archives`. */
  archivesDir: string;
  /** The live settings: retention switches and times are read at each sweep. */
  settings: Pick<
    Settings,
    'retentionEnabled' | 'retentionSec' | 'localRetentionEnabled' | 'localRetentionSec'
  >;
  /** Time between sweeps (default 1 s: an expireTime is honoured within about a second). */
  everyMs?: number;
}

/**
 * Local retention: removes the local files of archives whose `expireTime` passed, of archives
 * uploaded more than `retentionSec` ago (when `retentionEnabled`), and of archives never
 * uploaded after `localRetentionSec` (when `localRetentionEnabled`), none whose deliveries are
 * still running, and marks them `expired` (an event and a webhook).
 */
export class RetentionSweeper {
  readonly #options: RetentionSweeperOptions;
  readonly #timer: NodeJS.Timeout;
  #sweeping: Promise<void> | null = null;
  #closed = false;

  constructor(options: RetentionSweeperOptions) {
    this.#options = options;
    // Often enough that an archive expires close to its time; the query is one indexed scan.
    this.#timer = setInterval(
      guarded(options.logger, 'retention sweep', () => this.sweep()),
      options.everyMs ?? 1000,
    );
    this.#timer.unref();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Expires every archive whose retention ended (one sweep at a time). */
  sweep(): Promise<void> {
    this.#sweeping ??= this.#sweep().finally(() => (this.#sweeping = null));
    return this.#sweeping;
  }

  async #sweep(): Promise<void> {
    const { deliveries, archiveStatus, logger, archivesDir, settings } = this.#options;
    const ids = deliveries.expiredArchives(Date.now(), {
      uploadedMs: settings.retentionEnabled ? settings.retentionSec * 1000 : null,
      localMs: settings.localRetentionEnabled ? settings.localRetentionSec * 1000 : null,
    });
    for (const id of ids) {
      if (this.#closed) return;
      // Ids name folders: never let one climb out of the archives folder.
      if (!/^[A-Za-z0-9_-]+$/.test(id)) continue;
      try {
        await rm(join(archivesDir, id), { recursive: true, force: true });
        archiveStatus.set(id, 'expired');
        logger.info({ archiveId: id }, 'local files of an expired archive removed (retention)');
      } catch (error) {
        logger.error({ err: error, archiveId: id }, 'cannot remove local files of an expired archive');
      }
    }
  }

  /** Stops sweeping and waits for a sweep in progress. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#sweeping;
  }
}
