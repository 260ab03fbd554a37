import { existsSync, rmSync } from 'node:fs';
import { open, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { DiskLevel } from '../../shared/events';
import type { EventBus } from '../events/EventBus';
import type { Logger } from '../logger';

/** Free space of the data folder's disk and what the studio makes of it. */
export interface DiskStatus {
  level: DiskLevel;
  freeBytes: number;
  totalBytes: number;
  /** Below this the level is `low` (the configured value, or 15 minutes at the current write rate). */
  warnBytes: number;
  /** Below this the level is `full`. */
  floorBytes: number;
  /** Bytes per second the recorder wrote lately. */
  writeRate: number;
  /** Whether the database's reserve file is in place (it is released when the disk fills). */
  reserveHeld: boolean;
  /** Why the level is `full` when a write failed rather than the space crossing the floor. */
  detail?: string;
}

export interface DiskMonitorOptions {
  dataDir: string;
  bus: EventBus;
  logger: Logger;
  /** Configured warning threshold (bytes). */
  warnBytes: number;
  /** Free space under which recording stops and new archives are refused (bytes). */
  floorBytes: number;
  /** Size of the reserve file kept for the database (0: none). */
  reserveBytes: number;
  intervalMs: number;
  /** Bytes the recorder has written in total (the write rate comes from it). */
  bytesWritten: () => number;
  /** The level became `full`: stop the archives. */
  onFull: (detail: string) => void;
  /** The level left `full`: writing may go on. */
  onClear?: () => void;
}

/** Free space beyond the thresholds that ends the `full` level a failed write started. */
const CLEAR_MARGIN_BYTES = 64 * 1024 * 1024;

/** Minutes of recording at the current rate the warning gives the operator. */
const WARN_MINUTES = 15;

/**
 * Watches the free space of the data folder's disk: `ok`, `low` (a warning event and banner) and
 * `full` (archives stop with "disk full", new ones are refused). A reserve file keeps some space
 * for the database: it is deleted when the disk fills, so status changes and events still commit,
 * and made again once there is room.
 */
export class DiskMonitor {
  readonly #options: DiskMonitorOptions;
  readonly #reservePath: string;
  #status: DiskStatus;
  #timer: NodeJS.Timeout | null = null;
  #rate = { at: Date.now(), bytes: 0, perSec: 0 };
  #writeFailure: string | null = null;
  #checking: Promise<void> | null = null;
  #reserving: Promise<void> | null = null;
  #closed = false;

  constructor(options: DiskMonitorOptions) {
    this.#options = options;
    this.#reservePath = join(options.dataDir, 'disk-reserve.bin');
    this.#status = {
      level: 'ok',
      freeBytes: 0,
      totalBytes: 0,
      warnBytes: options.warnBytes,
      floorBytes: options.floorBytes,
      writeRate: 0,
      reserveHeld: existsSync(this.#reservePath),
    };
  }

  get status(): DiskStatus {
    return { ...this.#status };
  }

  get level(): DiskLevel {
    return this.#status.level;
  }

  /** Why new archives cannot start, or null. */
  refusal(): string | null {
    if (this.#status.level !== 'full') return null;
    const mb = (n: number) => `${Math.round(n / 1024 ** 2)} MB`;
    return this.#status.detail === 'disk full' || this.#writeFailure !== null
      ? `the data folder's disk is full (${this.#writeFailure ?? 'a write failed'}; ${mb(this.#status.freeBytes)} free); free some space`
      : `the data folder's disk is full (${mb(this.#status.freeBytes)} free, below the floor of ${mb(this.#status.floorBytes)}); free some space`;
  }

  /** Checks now and then every `intervalMs`. */
  async start(): Promise<void> {
    await this.check();
    this.#timer = setInterval(() => void this.check(), this.#options.intervalMs);
    this.#timer.unref();
  }

  /** A recording write failed (ENOSPC, EIO): full at once, and the reserve goes to the database. */
  writeFailed(detail: string): void {
    if (this.#closed) return;
    this.#writeFailure = detail;
    this.#releaseReserve();
    this.#setLevel('full', detail);
    void this.check();
  }

  /** Reads the free space and moves the level; errors are logged, never thrown (a timer calls it). */
  check(): Promise<void> {
    this.#checking ??= this.#check()
      .catch((error: unknown) =>
        this.#options.logger.warn({ err: error }, 'cannot check the free disk space'),
      )
      .finally(() => {
        this.#checking = null;
      });
    return this.#checking;
  }

  async #check(): Promise<void> {
    if (this.#closed) return;
    const stats = await statfs(this.#options.dataDir);
    const free = stats.bavail * stats.bsize;
    const now = Date.now();
    const written = this.#options.bytesWritten();
    const elapsed = (now - this.#rate.at) / 1000;
    if (elapsed >= 1) {
      const perSec = Math.max(0, (written - this.#rate.bytes) / elapsed);
      // Smoothed, so one burst does not swing the warning.
      this.#rate = { at: now, bytes: written, perSec: this.#rate.perSec * 0.7 + perSec * 0.3 };
    }
    const { floorBytes, reserveBytes } = this.#options;
    const warnBytes = Math.max(this.#options.warnBytes, this.#rate.perSec * WARN_MINUTES * 60);
    // A released reserve is space the studio means to take back: it does not count as free.
    const reserveOut = this.#status.reserveHeld ? 0 : reserveBytes;
    const usable = Math.max(0, free - reserveOut);
    this.#status = {
      ...this.#status,
      freeBytes: free,
      totalBytes: stats.blocks * stats.bsize,
      warnBytes,
      writeRate: Math.round(this.#rate.perSec),
    };
    let level: DiskLevel = usable <= floorBytes ? 'full' : usable <= warnBytes ? 'low' : 'ok';
    // After a failed write the disk stays full until there is clearly room again: above the
    // warning and the floor by a margin (a file cut back frees a little, which is not room).
    if (this.#writeFailure !== null) {
      if (usable > Math.max(warnBytes, floorBytes) + CLEAR_MARGIN_BYTES) this.#writeFailure = null;
      else level = 'full';
    }
    if (level === 'full') this.#releaseReserve();
    else if (level === 'ok' && !this.#status.reserveHeld && this.#reserving === null) {
      // In the background: writing and syncing the reserve must not hold up start-up or checks.
      this.#reserving = this.#holdReserve(free).finally(() => {
        this.#reserving = null;
      });
    }
    this.#setLevel(level, this.#writeFailure ?? (level === 'full' ? 'below the floor' : undefined));
  }

  #setLevel(level: DiskLevel, detail?: string): void {
    const previous = this.#status.level;
    this.#status = { ...this.#status, level };
    if (detail !== undefined) this.#status.detail = detail;
    else delete this.#status.detail;
    if (previous === level) return;
    const { freeBytes, warnBytes, floorBytes } = this.#status;
    const log = level === 'ok' ? 'info' : level === 'low' ? 'warn' : 'error';
    this.#options.logger[log](
      { level, freeBytes, warnBytes, floorBytes, detail },
      'disk space level changed',
    );
    try {
      this.#options.bus.publish('studio.disk', {
        level,
        freeBytes,
        warnBytes,
        floorBytes,
        ...(detail !== undefined ? { detail } : {}),
      });
    } catch (error) {
      this.#options.logger.error({ err: error }, 'cannot record the disk level event');
    }
    if (level === 'full') this.#options.onFull(this.#writeFailure ?? 'disk full');
    else if (previous === 'full') this.#options.onClear?.();
  }

  async #holdReserve(free: number): Promise<void> {
    const { reserveBytes, warnBytes } = this.#options;
    if (reserveBytes <= 0 || free < reserveBytes + warnBytes || this.#closed) return;
    const handle = await open(this.#reservePath, 'w', 0o600).catch((error: unknown) => {
      this.#options.logger.warn({ err: error }, 'cannot make the database reserve file');
      return null;
    });
    if (handle === null) return;
    try {
      // Real blocks (not a sparse file): zeros written out, so deleting it frees that much.
      const chunk = Buffer.alloc(Math.min(reserveBytes, 1024 * 1024));
      for (let written = 0; written < reserveBytes; written += chunk.length)
        await handle.write(chunk, 0, Math.min(chunk.length, reserveBytes - written), written);
      await handle.datasync();
      // The disk may have filled meanwhile: then the reserve goes at once.
      if (this.#status.level === 'full' || this.#closed) rmSync(this.#reservePath, { force: true });
      else this.#status.reserveHeld = true;
    } catch (error) {
      rmSync(this.#reservePath, { force: true });
      this.#options.logger.warn({ err: error }, 'cannot make the database reserve file');
    } finally {
      await handle.close();
    }
  }

  #releaseReserve(): void {
    if (!this.#status.reserveHeld && !existsSync(this.#reservePath)) return;
    rmSync(this.#reservePath, { force: true });
    if (this.#status.reserveHeld) this.#options.logger.warn('database reserve released: the disk is full');
    this.#status.reserveHeld = false;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
  }
}
