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
    const base = {
      id: randomUUID(),
      type,
      createdAt: Date.now(),
      data,
      ...(options.roomId !== undefined ? { roomId: options.roomId } : {}),
      ...(options.archiveId !== undefined ? { archiveId: options.archiveId } : {}),
    };
    if (this.#closed) return { ...base, seq: 0 };
    const seq = options.persist === false ? 0 : this.#repo.append(base as Omit<AnyStudioEvent, 'seq'>);
    const event = { ...base, seq } as StudioEvent<K>;
    this.safeEmit('event', event as unknown as AnyStudioEvent);
    return event;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.removeAllListeners();
  }
}
