import { setImmediate as yieldToEvents } from 'node:timers/promises';
import type { Settings } from '../config/schema';
import type { Logger } from '../logger';
import type { EventRepository } from '../store/EventRepository';
import { guarded } from '../util/guarded';

/** Events removed per statement. */
const BATCH = 2000;

export interface EventRetentionOptions {
  events: EventRepository;
  logger: Logger;
  /** The live settings: the bounds are read at each sweep. */
  settings: Pick<Settings, 'eventRetentionSec' | 'eventRetentionMaxRows'>;
  /** Time between sweeps (default 1 h). */
  everyMs?: number;
}

/**
 * Keeps the events table bounded: events older than `eventRetentionSec`, and the oldest beyond
 * `eventRetentionMaxRows`, are removed — but only once the delivery queue and every webhook
 * have handled them (the table is their outbox; a receiver that is down keeps its events).
 */
export class EventRetention {
  readonly #options: EventRetentionOptions;
  readonly #timer: NodeJS.Timeout;
  #sweeping: Promise<number> | null = null;
  #closed = false;

  constructor(options: EventRetentionOptions) {
    this.#options = options;
    this.#timer = setInterval(
      guarded(options.logger, 'event retention', () => this.sweep()),
      options.everyMs ?? 3_600_000,
    );
    this.#timer.unref();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Prunes now (one sweep at a time); resolves with the number of events removed. */
  sweep(now = Date.now()): Promise<number> {
    this.#sweeping ??= this.#sweep(now).finally(() => (this.#sweeping = null));
    return this.#sweeping;
  }

  async #sweep(now: number): Promise<number> {
    const { events, logger, settings } = this.#options;
    let removed = 0;
    // In batches, letting I/O and timers run in between: a first sweep may face millions of rows.
    while (!this.#closed) {
      const batch = events.prune(
        now - settings.eventRetentionSec * 1000,
        settings.eventRetentionMaxRows,
        BATCH,
      );
      removed += batch;
      if (batch < BATCH) break;
      await yieldToEvents();
    }
    if (removed > 0) logger.info({ removed }, 'old events pruned (retention)');
    return removed;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
  }
}
