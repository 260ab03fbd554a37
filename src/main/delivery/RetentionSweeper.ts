import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArchiveStatus } from '../events/ArchiveStatus';
import type { Logger } from '../logger';
import type { DeliveryRepository } from '../store/DeliveryRepository';
import { guarded } from '../util/guarded';

export interface RetentionSweeperOptions {
  deliveries: DeliveryRepository;
  archiveStatus: ArchiveStatus;
  logger: Logger;
  /** `<data>/archives`. */
  archivesDir: string;
  /** How long local files of an uploaded archive are kept. */
  retentionSec: number;
}

/**
 * Local retention: removes the local files of archives uploaded more than `retentionSec` ago
 * (none whose deliveries are still running) and marks them `expired`.
 */
export class RetentionSweeper {
  readonly #options: RetentionSweeperOptions;
  readonly #timer: NodeJS.Timeout;
  #sweeping: Promise<void> | null = null;
  #closed = false;

  constructor(options: RetentionSweeperOptions) {
    this.#options = options;
    // Often enough that an archive expires close to its time, rarely enough to cost nothing.
    const everyMs = Math.min(60_000, Math.max(500, options.retentionSec * 250));
    this.#timer = setInterval(
      guarded(options.logger, 'retention sweep', () => this.sweep()),
      everyMs,
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
    const { deliveries, archiveStatus, logger, archivesDir, retentionSec } = this.#options;
    for (const id of deliveries.expiredArchives(Date.now(), retentionSec * 1000)) {
      if (this.#closed) return;
      // Ids name folders: never let one climb out of the archives folder.
      if (!/^[A-Za-z0-9_-]+$/.test(id)) continue;
      try {
        await rm(join(archivesDir, id), { recursive: true, force: true });
        archiveStatus.set(id, 'expired');
        logger.info({ archiveId: id }, 'local files of uploaded archive removed (retention)');
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
