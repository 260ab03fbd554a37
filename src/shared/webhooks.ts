/** Webhook registrations and their delivery log, as the API shows them. */
import { z } from 'zod';

/**
 * `studio`: the studio event envelope for every (or some) event; `opentok`: OpenTok archive
 * callbacks; `callback`: a composition's or a composition hook's `statusCallback` (the studio
 * envelope of that composition's events only, Twilio's StatusCallback).
 */
export type WebhookKind = 'studio' | 'opentok' | 'callback';

const callbackUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
  .max(2000, 'must be at most 2000 characters');

/** An event type (`archive.uploaded`), a group (`delivery.*`) or every event (`*`). */
const eventFilter = z
  .string()
  .trim()
  .regex(
    /^(\*|[a-z][a-zA-Z0-9_-]*(\.[a-zA-Z0-9_-]+)*\.(\*|[a-zA-Z0-9_-]+))$/,
    'must be an event type like archive.uploaded, a group like delivery.*, or *',
  );

/** A `statusCallback` URL (compositions, composition hooks). */
export const statusCallbackSchema = callbackUrl;

/** `POST /api/webhooks`. */
export const createWebhookSchema = z.strictObject({
  url: callbackUrl,
  /** Event types to send; every event when absent. */
  events: z
    .array(eventFilter)
    .min(1, 'must list at least one event (leave it out for every event)')
    .max(100)
    .optional(),
  description: z.string().max(500, 'must be at most 500 characters').optional(),
  enabled: z.boolean().default(true),
  /**
   * Allow a receiver on loopback or private (LAN) addresses for this webhook; absent or null:
   * the studio-wide `webhooksAllowPrivateNetwork` decides. Cloud metadata addresses never.
   */
  allowPrivateNetwork: z.boolean().nullable().optional(),
});

/** `PATCH /api/webhooks/{id}`. */
export const updateWebhookSchema = z.strictObject({
  url: callbackUrl.optional(),
  /** null: every event again. */
  events: z
    .array(eventFilter)
    .min(1, 'must list at least one event (null for every event)')
    .max(100)
    .nullable()
    .optional(),
  description: z.string().max(500, 'must be at most 500 characters').nullable().optional(),
  enabled: z.boolean().optional(),
  /** null: follow the studio-wide setting again. */
  allowPrivateNetwork: z.boolean().nullable().optional(),
});

/**
 * `POST /v2/project/{apiKey}/callback` (OpenTok): `{ group: "archive", event: "status", url }`.
 * The length limit applies to the JSON sent, unknown fields included: it is checked before the
 * object drops them (after, `url`'s own limit kept it far below 8096).
 */
export const createCallbackSchema = z
  .unknown()
  .refine((v) => {
    try {
      return (JSON.stringify(v) ?? '').length <= 8096;
    } catch {
      // Too deep to serialize (a stack overflow): thousands of levels, far over 8096 characters.
      return false;
    }
  }, 'the JSON data is longer than 8096 characters; send at most 8096')
  .pipe(
    z.object({
      group: z.literal('archive', { error: 'must be "archive"' }),
      event: z.literal('status', { error: 'must be "status"' }),
      url: callbackUrl,
    }),
  );

/** A studio webhook registration. The signing secret is only in the creation answer. */
export interface WebhookJson {
  id: string;
  kind: WebhookKind;
  url: string;
  /** null: every event. */
  events: string[] | null;
  description: string | null;
  enabled: boolean;
  /** Loopback/private receivers allowed for this webhook; null: the studio-wide setting decides. */
  allowPrivateNetwork: boolean | null;
  createdAt: number;
  updatedAt: number;
  /** Messages waiting to be delivered (retries included). */
  pending: number;
}

/** Creation answer: the registration and its Standard Webhooks signing secret (`whsec_…`), shown once. */
export type CreatedWebhookJson = WebhookJson & { secret: string };

/** An OpenTok callback registration (`GET /v2/project/{apiKey}/callback`). */
export interface CallbackJson {
  id: string;
  url: string;
  group: 'archive';
  event: 'status';
  createdAt: number;
  updatedAt: number;
}

/** Creation answer of an OpenTok callback: `{ id, uri }` as OpenTok answers, plus the signing secret. */
export type CreatedCallbackJson = CallbackJson & { uri: string; secret: string };

export type WebhookMessageStatus = 'pending' | 'delivered' | 'failed';

/** One attempt to deliver one event to one registration (`GET /api/webhooks/{id}/deliveries`). */
export interface WebhookDeliveryJson {
  id: number;
  /** The `webhook-id` header: the event's id. */
  messageId: string;
  eventType: string;
  eventSeq: number;
  archiveId: string | null;
  attempt: number;
  /** HTTP status answered, or null when no answer came (refused, timeout). */
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  at: number;
  /** Where the message stands now. */
  messageStatus: WebhookMessageStatus;
}

/** `GET /api/webhooks/{id}/deliveries` query. */
export const webhookDeliveriesQuerySchema = z.strictObject({
  limit: z.coerce
    .number()
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .max(1000, 'must be at most 1000')
    .default(100),
});
