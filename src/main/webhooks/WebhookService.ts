import { randomBytes, randomUUID } from 'node:crypto';
import type BetterSqlite3 from 'better-sqlite3';
import { notFound } from '../../shared/errors';
import type { AnyStudioEvent } from '../../shared/events';
import { parseWith } from '../../shared/validation';
import {
  createCallbackSchema,
  createWebhookSchema,
  updateWebhookSchema,
  webhookDeliveriesQuerySchema,
  type CallbackJson,
  type CreatedCallbackJson,
  type CreatedWebhookJson,
  type WebhookDeliveryJson,
  type WebhookJson,
  type WebhookKind,
} from '../../shared/webhooks';
import type { Settings } from '../config/schema';
import type { EventBus } from '../events/EventBus';
import type { Logger } from '../logger';
import type { Encryptor } from '../security/SecretBox';
import { EventRepository } from '../store/EventRepository';
import { WebhookRepository, type WebhookRecord } from '../store/WebhookRepository';
import { WebhookDispatcher } from './WebhookDispatcher';

export interface WebhookServiceOptions {
  /** The store's database (webhooks, their messages, the events outbox). */
  db: BetterSqlite3.Database;
  bus: EventBus;
  logger: Logger;
  settings: Settings;
  /** Encrypts signing secrets at rest. */
  encryptor: Encryptor;
  /** Studio version, for the User-Agent of webhook POSTs. */
  version?: string;
}

/** Whose status callback: one composition, or every composition a hook creates. */
export type StatusCallbackScope = { compositionId: string } | { hookId: string };

function scopeKey(scope: StatusCallbackScope): string {
  return 'compositionId' in scope ? `compositionId:${scope.compositionId}` : `hookId:${scope.hookId}`;
}

/** A Standard Webhooks signing secret: `whsec_` and 32 random bytes in base64. */
function newSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/**
 * Webhook registrations: studio webhooks (`/api/webhooks`, the studio event envelope for every
 * event or the ones listed) and OpenTok archive callbacks (`/v2/project/{apiKey}/callback`,
 * the archive JSON). Every persisted event reaches them through the dispatcher's outbox.
 */
export class WebhookService {
  readonly repo: WebhookRepository;
  readonly #options: WebhookServiceOptions;
  readonly #dispatcher: WebhookDispatcher;
  readonly #listener = (event: AnyStudioEvent) => {
    if (event.seq === 0) return;
    this.#dispatcher.fanOut();
    this.#dispatcher.pump();
  };
  #closing: Promise<void> | null = null;

  constructor(options: WebhookServiceOptions) {
    this.#options = options;
    this.repo = new WebhookRepository(options.db, options.encryptor);
    this.#dispatcher = new WebhookDispatcher({
      repo: this.repo,
      events: new EventRepository(options.db),
      logger: options.logger,
      settings: options.settings,
      userAgent: `SpoolStudio/${options.version ?? 'dev'} (+Standard Webhooks)`,
      onGone: (registration, pending) =>
        options.bus.publish('webhook.disabled', {
          webhookId: registration.id,
          kind: registration.kind,
          reason: 'the receiver answered 410 Gone',
          statusCode: 410,
          pending,
        }),
    });
  }

  get closed(): boolean {
    return this.#closing !== null;
  }

  /** Sends what the outbox holds (events from before a restart included) and follows new events. */
  start(): void {
    if (this.closed) return;
    this.#options.bus.on('event', this.#listener);
    this.#dispatcher.start();
  }

  #record(id: string, kind: WebhookKind): WebhookRecord {
    const record = this.repo.get(id);
    if (record === null || record.kind !== kind) {
      throw notFound(
        `${kind === 'opentok' ? 'callback' : 'webhook'} ${id} does not exist`,
        kind === 'opentok' ? 'callbackId' : 'webhookId',
      );
    }
    return record;
  }

  #insert(
    fields: Pick<WebhookRecord, 'kind' | 'url' | 'events' | 'description' | 'enabled'> &
      Partial<Pick<WebhookRecord, 'allowPrivateNetwork'>>,
    cursor = this.repo.lastEventSeq(),
  ): WebhookRecord {
    const now = Date.now();
    // Only events after the registration (or after `cursor`) are sent to it.
    const record: WebhookRecord = {
      allowPrivateNetwork: null,
      ...fields,
      id: randomUUID(),
      secret: newSecret(),
      cursor,
      createdAt: now,
      updatedAt: now,
    };
    this.repo.insert(record);
    this.#options.logger.info(
      { webhookId: record.id, kind: record.kind, url: record.url },
      'webhook registered',
    );
    return record;
  }

  toJson(record: WebhookRecord): WebhookJson {
    return {
      id: record.id,
      kind: record.kind,
      url: record.url,
      events: record.events,
      description: record.description,
      enabled: record.enabled,
      allowPrivateNetwork: record.allowPrivateNetwork,
      createdAt: record.createdAt,
      updatedAt: record.updatedAt,
      pending: this.repo.pendingCount(record.id),
    };
  }

  // ---- studio webhooks --------------------------------------------------------------------

  /** Registers a webhook; the answer holds its signing secret, which is never shown again. */
  create(body: unknown): CreatedWebhookJson {
    const input = parseWith(createWebhookSchema, body, 'webhook');
    const record = this.#insert({
      kind: 'studio',
      url: input.url,
      events: input.events ?? null,
      description: input.description ?? null,
      enabled: input.enabled,
      allowPrivateNetwork: input.allowPrivateNetwork ?? null,
    });
    return { ...this.toJson(record), secret: record.secret };
  }

  list(): WebhookJson[] {
    return this.repo.list('studio').map((record) => this.toJson(record));
  }

  get(id: string): WebhookJson {
    return this.toJson(this.#record(id, 'studio'));
  }

  update(id: string, body: unknown): WebhookJson {
    const current = this.#record(id, 'studio');
    const patch = parseWith(updateWebhookSchema, body, 'webhook');
    const next: WebhookRecord = {
      ...current,
      ...(patch.url !== undefined ? { url: patch.url } : {}),
      ...(patch.events !== undefined ? { events: patch.events } : {}),
      ...(patch.description !== undefined ? { description: patch.description } : {}),
      ...(patch.enabled !== undefined ? { enabled: patch.enabled } : {}),
      ...(patch.allowPrivateNetwork !== undefined ? { allowPrivateNetwork: patch.allowPrivateNetwork } : {}),
      updatedAt: Date.now(),
    };
    this.repo.update(next);
    this.#dispatcher.pump();
    return this.toJson(next);
  }

  delete(id: string): void {
    this.#record(id, 'studio');
    this.repo.delete(id);
    this.#options.logger.info({ webhookId: id }, 'webhook removed');
  }

  /** `GET /api/webhooks/{id}/deliveries`: attempts, newest first. */
  deliveries(id: string, query: unknown = {}): WebhookDeliveryJson[] {
    this.#record(id, 'studio');
    const { limit } = parseWith(webhookDeliveriesQuerySchema, query ?? {}, 'query');
    return this.repo.attempts(id, limit);
  }

  // ---- status callbacks of compositions and hooks ---------------------------------------------

  /** The last event's seq: a status callback registered after a creation starts from here. */
  lastEventSeq(): number {
    return this.repo.lastEventSeq();
  }

  /**
   * Registers a `statusCallback` for one composition or one hook's compositions. The same URL
   * again keeps the registration as it is: its signing secret (answered as null: it was shown
   * once) and its undelivered messages; a registration disabled by a 410 is enabled again. A new
   * URL gets a new registration and secret, and takes over the old one's undelivered messages
   * and its place in the event stream, so no event is lost between the two.
   */
  setStatusCallback(
    scope: StatusCallbackScope,
    url: string,
    since?: number,
  ): { url: string; secret: string | null } {
    const current = this.#statusCallback(scope);
    if (current !== null && current.url === url) {
      if (!current.enabled) {
        this.repo.update({ ...current, enabled: true, updatedAt: Date.now() });
        this.#options.logger.info({ webhookId: current.id }, 'status callback enabled again');
      }
      this.#dispatcher.pump();
      return { url, secret: null };
    }
    const record = this.#insert(
      { kind: 'callback', url, events: [scopeKey(scope)], description: null, enabled: true },
      current?.cursor ?? since,
    );
    if (current !== null) {
      const moved = this.repo.movePending(current.id, record.id, Date.now());
      this.repo.delete(current.id);
      this.#options.logger.info(
        { from: current.id, to: record.id, moved },
        'status callback moved to a new URL with its undelivered messages',
      );
    }
    this.#dispatcher.fanOut();
    this.#dispatcher.pump();
    return { url: record.url, secret: record.secret };
  }

  #statusCallback(scope: StatusCallbackScope): WebhookRecord | null {
    const key = scopeKey(scope);
    return this.repo.list('callback').find((r) => r.events?.includes(key)) ?? null;
  }

  /** The status callback URL of a composition or hook, if it has one. */
  statusCallbackOf(scope: StatusCallbackScope): string | null {
    return this.#statusCallback(scope)?.url ?? null;
  }

  removeStatusCallback(scope: StatusCallbackScope): void {
    const key = scopeKey(scope);
    for (const record of this.repo.list('callback'))
      if (record.events?.includes(key)) this.repo.delete(record.id);
  }

  // ---- OpenTok callbacks ------------------------------------------------------------------

  #callbackJson(record: WebhookRecord): CallbackJson {
    return {
      id: record.id,
      url: record.url,
      group: 'archive',
      event: 'status',
      createdAt: record.createdAt,
      updatedAt: record.updatedAt,
    };
  }

  /** `POST /v2/project/{apiKey}/callback`: answers `{ id, uri }` as OpenTok does, plus the signing secret. */
  createCallback(body: unknown): CreatedCallbackJson {
    const input = parseWith(createCallbackSchema, body, 'callback');
    const record = this.#insert({
      kind: 'opentok',
      url: input.url,
      events: null,
      description: null,
      enabled: true,
    });
    return { ...this.#callbackJson(record), uri: record.url, secret: record.secret };
  }

  listCallbacks(): CallbackJson[] {
    return this.repo.list('opentok').map((record) => this.#callbackJson(record));
  }

  deleteCallback(id: string): void {
    this.#record(id, 'opentok');
    this.repo.delete(id);
    this.#options.logger.info({ webhookId: id }, 'callback removed');
  }

  /** Stops sending; undelivered messages stay in the outbox for the next start. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#options.bus.off('event', this.#listener);
      await this.#dispatcher.close();
    })();
    return this.#closing;
  }
}
