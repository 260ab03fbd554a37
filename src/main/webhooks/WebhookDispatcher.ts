import { Webhook } from 'standardwebhooks';
import { StudioError } from '../../shared/errors';
import { guardedRequest } from '../security/outboundGuard';
import type { AnyStudioEvent } from '../../shared/events';
import type { Settings } from '../config/schema';
import { backoffMs, retryAfterMs } from '../util/backoff';
import type { Logger } from '../logger';
import type { EventRepository } from '../store/EventRepository';
import type {
  NewWebhookMessage,
  WebhookMessageRecord,
  WebhookRecord,
  WebhookRepository,
} from '../store/WebhookRepository';
import { guarded } from '../util/guarded';
import { faultPoint } from '../util/fault';

/** OpenTok archive status callbacks carry these events (their body is the archive JSON). */
const OPENTOK_ARCHIVE_EVENTS: ReadonlySet<string> = new Set([
  'archive.started',
  'archive.paused',
  'archive.stopped',
  'archive.available',
  'archive.uploaded',
  'archive.failed',
  'archive.expired',
  'archive.deleted',
]);

/** POSTs in flight at once, across registrations. */
const CONCURRENCY = 8;
/** A receiver gets this long to answer. */
const REQUEST_TIMEOUT_MS = 15_000;
/** Answers whose `Retry-After` sets the earliest next attempt (the receiver is busy or down). */
const RETRY_AFTER_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);
/** Finished messages and their log are kept this long. */
const KEEP_LOG_MS = 7 * 86_400_000;
const MAX_IDLE_MS = 5000;

/** Whether a registration wants an event. */
export function wants(
  registration: Pick<WebhookRecord, 'kind' | 'events'>,
  type: string,
  data?: unknown,
): boolean {
  if (registration.kind === 'opentok') return OPENTOK_ARCHIVE_EVENTS.has(type);
  if (registration.kind === 'callback') {
    // Scopes `compositionId:<id>` / `hookId:<id>`: that composition's (or hook's) events only.
    if (!type.startsWith('composition.') || data === null || typeof data !== 'object') return false;
    const fields = data as { compositionId?: unknown; hookId?: unknown };
    return (registration.events ?? []).some((scope) => {
      const [field, id] = scope.split(':', 2) as [string, string | undefined];
      return (field === 'compositionId' || field === 'hookId') && id !== undefined && fields[field] === id;
    });
  }
  if (registration.events === null) return true;
  return registration.events.some(
    (filter) =>
      filter === '*' || filter === type || (filter.endsWith('.*') && type.startsWith(filter.slice(0, -1))),
  );
}

/** The body a registration receives for an event: OpenTok's archive JSON, or the studio envelope. */
export function bodyOf(registration: Pick<WebhookRecord, 'kind'>, event: AnyStudioEvent): string {
  if (registration.kind === 'opentok') {
    // OpenTok's callback gives the start call's time "rounded to the nearest second" (its REST
    // answers give when recording effectively began, to the millisecond).
    const data = event.data as { createdAt?: unknown };
    return JSON.stringify(
      typeof data.createdAt === 'number'
        ? { ...data, createdAt: Math.round(data.createdAt / 1000) * 1000 }
        : data,
    );
  }
  return JSON.stringify({
    id: event.id,
    seq: event.seq,
    type: event.type,
    createdAt: event.createdAt,
    ...(event.roomId !== undefined ? { roomId: event.roomId } : {}),
    ...(event.archiveId !== undefined ? { archiveId: event.archiveId } : {}),
    data: event.data,
  });
}

export interface WebhookDispatcherOptions {
  repo: WebhookRepository;
  events: EventRepository;
  logger: Logger;
  settings: Settings;
  /** User-Agent of the POSTs. */
  userAgent: string;
  /** A registration was disabled because its receiver answered 410 Gone. */
  onGone?: (registration: WebhookRecord, pending: number) => void;
}

/**
 * The outbox: turns persisted events into one message per interested registration (each
 * registration keeps a cursor in the events table, so nothing is lost across a restart), and
 * POSTs them signed with the Standard Webhooks scheme, retrying with backoff until the retry
 * window ends. Messages of the same archive go out in order: the next waits for the previous.
 */
export class WebhookDispatcher {
  readonly #options: WebhookDispatcherOptions;
  readonly #running = new Map<number, Promise<void>>();
  readonly #abort = new AbortController();
  #timer: NodeJS.Timeout | null = null;
  #lastPrune = 0;
  #started = false;
  #closed = false;

  constructor(options: WebhookDispatcherOptions) {
    this.#options = options;
  }

  get closed(): boolean {
    return this.#closed;
  }

  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.fanOut();
    this.pump();
  }

  /** Adds messages for events after each registration's cursor. */
  fanOut(): void {
    if (this.#closed) return;
    const { repo, events, settings } = this.#options;
    const registrations = repo.list();
    if (registrations.length === 0) return;
    let from = Math.min(...registrations.map((r) => r.cursor));
    for (;;) {
      const batch = events.since(from, 500);
      if (batch.length === 0) return;
      const last = batch[batch.length - 1]!.seq;
      const now = Date.now();
      for (const registration of registrations) {
        if (registration.cursor >= last) continue;
        const messages: NewWebhookMessage[] = [];
        // Events while a registration is disabled are skipped, not kept for later.
        if (registration.enabled) {
          for (const event of batch) {
            if (event.seq <= registration.cursor || !wants(registration, event.type, event.data)) continue;
            messages.push({
              webhookId: registration.id,
              eventSeq: event.seq,
              eventId: event.id,
              eventType: event.type,
              orderingKey: event.archiveId ?? null,
              nextAttemptAt: now,
              deadlineAt: now + settings.webhookRetryWindowSec * 1000,
            });
          }
        }
        repo.fanOut(registration.id, messages, last, now);
        registration.cursor = last;
      }
      from = last;
    }
  }

  /** Sends due messages while slots are free, then sleeps until the next is due. */
  pump(): void {
    if (!this.#started || this.#closed) return;
    const { repo } = this.#options;
    const now = Date.now();
    if (now - this.#lastPrune > 3_600_000) {
      this.#lastPrune = now;
      repo.prune(now - KEEP_LOG_MS);
    }
    for (const message of repo.due(now, CONCURRENCY - this.#running.size, new Set(this.#running.keys()))) {
      const promise = this.#send(message)
        .catch((error: unknown) =>
          this.#options.logger.error({ err: error, messageId: message.id }, 'webhook send crashed'),
        )
        .finally(() => {
          this.#running.delete(message.id);
          this.pump();
        });
      this.#running.set(message.id, promise);
    }
    if (this.#timer !== null) clearTimeout(this.#timer);
    const next = repo.nextDueAt();
    if (next === null) return;
    this.#timer = setTimeout(
      guarded(this.#options.logger, 'webhook queue', () => this.pump()),
      Math.min(MAX_IDLE_MS, Math.max(20, next - Date.now())),
    );
    this.#timer.unref();
  }

  async #send(message: WebhookMessageRecord): Promise<void> {
    const { repo, events, logger, settings } = this.#options;
    const registration = repo.get(message.webhookId);
    if (registration === null) return;
    const [event = null] = events.since(message.eventSeq - 1, 1).filter((e) => e.seq === message.eventSeq);
    const started = Date.now();
    let statusCode: number | null = null;
    let error: string | null = null;
    let retryAfter: string | string[] | undefined;
    if (event === null) {
      error = `event ${message.eventSeq} is no longer in the outbox`;
    } else {
      const body = bodyOf(registration, event);
      const timestamp = new Date();
      const signature = new Webhook(registration.secret).sign(message.eventId, timestamp, body);
      try {
        // The outbound guard: no loopback, link-local or private receivers unless allowed (for
        // this webhook, else studio-wide), checked on the address actually connected to. No
        // redirect is followed: it could send the signed body somewhere the user did not register.
        const signal = AbortSignal.any([AbortSignal.timeout(REQUEST_TIMEOUT_MS), this.#abort.signal]);
        const response = await guardedRequest(
          new URL(registration.url),
          {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              'user-agent': this.#options.userAgent,
              'webhook-id': message.eventId,
              'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
              'webhook-signature': signature,
            },
            body,
            signal,
          },
          { allowPrivateNetwork: registration.allowPrivateNetwork ?? settings.webhooksAllowPrivateNetwork },
        );
        statusCode = response.statusCode ?? 0;
        if (RETRY_AFTER_STATUSES.has(statusCode)) retryAfter = response.headers['retry-after'];
        // The answer's body is not read: only its status counts.
        response.destroy();
        if (statusCode < 200 || statusCode >= 300) error = `receiver answered ${statusCode}`;
      } catch (failure) {
        if (failure instanceof StudioError) {
          error = failure.message;
        } else {
          if (this.#closed) return; // closing: the message stays pending and goes out after the restart
          const { code, cause } = failure as { code?: string; cause?: { code?: string } };
          error = code ?? cause?.code ?? (failure as Error).message;
          if ((failure as Error).name === 'TimeoutError')
            error = `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
        }
      }
    }
    const at = Date.now();
    const attempt = { statusCode, error, durationMs: at - started, at };
    if (error === null) {
      // A crash here sends the message again after the restart, with the same webhook-id.
      faultPoint('webhook.afterPost');
      repo.recordAttempt(message, attempt, { status: 'delivered', nextAttemptAt: at });
      logger.debug(
        { webhookId: registration.id, eventType: message.eventType, statusCode },
        'webhook delivered',
      );
      return;
    }
    if (statusCode === 410) {
      // Standard Webhooks: 410 Gone means the endpoint is gone and the sender should disable it
      // and stop sending. The message stays pending with the rest (a disabled registration's
      // messages are not due): enabling the registration again sends them.
      repo.recordAttempt(message, attempt, { status: 'pending', nextAttemptAt: at });
      if (repo.disable(registration.id, at)) {
        const pending = repo.pendingCount(registration.id);
        logger.warn(
          { webhookId: registration.id, kind: registration.kind, pending },
          'webhook disabled: the receiver answered 410 Gone',
        );
        this.#options.onGone?.(registration, pending);
      }
      return;
    }
    const backoff = backoffMs(
      message.attempts + 1,
      settings.webhookBackoffBaseSec,
      settings.webhookBackoffMaxSec,
    );
    // A receiver that says when to come back (429/503 with Retry-After) is not asked sooner, up
    // to the backoff cap; a wait past the retry window leaves one last attempt at its end.
    const asked = retryAfterMs(retryAfter, at);
    const delay =
      asked === null ? backoff : Math.max(backoff, Math.min(asked, settings.webhookBackoffMaxSec * 1000));
    const nextAt = Math.min(at + delay, Math.max(at + backoff, message.deadlineAt));
    const giveUp = event === null || nextAt > message.deadlineAt;
    repo.recordAttempt(message, attempt, {
      status: giveUp ? 'failed' : 'pending',
      nextAttemptAt: giveUp ? at : nextAt,
    });
    const log = {
      webhookId: registration.id,
      eventType: message.eventType,
      attempt: message.attempts + 1,
      error,
    };
    if (giveUp) logger.error(log, 'webhook message gave up');
    else logger.warn(log, 'webhook attempt failed');
  }

  /** Stops sending; messages in flight stay pending and go out after a restart. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#abort.abort();
    await Promise.allSettled(this.#running.values());
  }
}
