import { randomUUID } from 'node:crypto';
import type { AnyStudioEvent, EventPayloads, EventType, StudioEvent } from '../../shared/events';
import type { Logger } from '../logger';
import type { EventRepository } from '../store/EventRepository';
import { TypedEmitter } from '../util/TypedEmitter';

export interface EventBusEvents {
  [key: string]: unknown[];
  event: [AnyStudioEvent];
}

export interface PublishOptions {
  roomId?: string;
  archiveId?: string;
  /** Persist to the outbox (and so to webhooks). Off for high-rate status pings. Default true. */
  persist?: boolean;
}

/**
 * The studio's one event stream. Persisted events are written to the outbox before listeners
 * hear of them, so a webhook never misses an event the UI saw.
 */
export class EventBus extends TypedEmitter<EventBusEvents> {
  readonly #repo: EventRepository;
  #closed = false;

  constructor(repo: EventRepository, logger: Logger) {
    super();
    this.#repo = repo;
    this.onListenerError = (event, error) => logger.error({ err: error, event }, 'event listener failed');
  }

  get closed(): boolean {
    return this.#closed;
  }

  publish<K extends EventType>(
    type: K,
    data: EventPayloads[K],
    options: PublishOptions = {},
  ): StudioEvent<K> {
    const base = this.#build(type, data, options);
    if (this.#closed) return { ...base, seq: 0 };
    const seq = options.persist === false ? 0 : this.#repo.append(base as Omit<AnyStudioEvent, 'seq'>);
    const event = { ...base, seq } as StudioEvent<K>;
    this.safeEmit('event', event as unknown as AnyStudioEvent);
    return event;
  }

  /**
   * Runs a store change and appends the event announcing it in one SQLite transaction, so a crash
   * leaves both or neither; listeners hear of the event after the commit (`afterCommit` runs in
   * between: fault-injection points).
   */
  commit<T, K extends EventType>(
    change: () => T,
    announce: (result: T) => { type: K; data: EventPayloads[K]; options?: PublishOptions },
    afterCommit?: () => void,
  ): T {
    let event: StudioEvent<K> | null = null;
    const result = this.#repo.transaction(() => {
      const value = change();
      const { type, data, options = {} } = announce(value);
      const base = this.#build(type, data, options);
      const seq = this.#closed ? 0 : this.#repo.append(base as Omit<AnyStudioEvent, 'seq'>);
      event = { ...base, seq } as StudioEvent<K>;
      return value;
    });
    afterCommit?.();
    if (!this.#closed && event !== null) this.safeEmit('event', event as unknown as AnyStudioEvent);
    return result;
  }

  #build<K extends EventType>(type: K, data: EventPayloads[K], options: PublishOptions) {
    return {
      id: randomUUID(),
      type,
      createdAt: Date.now(),
      data,
      ...(options.roomId !== undefined ? { roomId: options.roomId } : {}),
      ...(options.archiveId !== undefined ? { archiveId: options.archiveId } : {}),
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.removeAllListeners();
  }
}
