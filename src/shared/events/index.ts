/** The one event model: the event socket and webhooks carry these. */
import type { ArchiveEventPayloads } from './archives';
import type { CompositionEventPayloads } from './compositions';
import type { DeliveryEventPayloads } from './deliveries';
import type { HealthEventPayloads } from './health';
import type { RoomEventPayloads } from './rooms';

export interface StudioEventPayloads {
  'studio.started': { version: string };
  'studio.health': { freeBytes: number; uptimeSec: number };
  /** The free space of the data folder's disk changed level (ok → low → full and back). */
  'studio.disk': {
    level: DiskLevel;
    freeBytes: number;
    /** Below this the level is `low` (a warning). */
    warnBytes: number;
    /** Below this the level is `full`: archives stop and new ones are refused. */
    floorBytes: number;
    /** Why, when an archive write failed rather than the free space crossing a threshold. */
    detail?: string;
  };
  /**
   * A webhook registration was disabled because its receiver answered 410 Gone (Standard
   * Webhooks: the endpoint is gone, stop sending). Its undelivered messages are kept and go out
   * if it is enabled again.
   */
  'webhook.disabled': {
    webhookId: string;
    kind: 'studio' | 'opentok' | 'callback';
    /** Why, e.g. "the receiver answered 410 Gone". */
    reason: string;
    statusCode: number;
    /** Messages kept, not sent. */
    pending: number;
  };
}

/** How much room the data folder's disk has: `low` warns, `full` stops recording. */
export type DiskLevel = 'ok' | 'low' | 'full';

/** Payload of each event type; each part of the studio declares its own in this folder. */
export interface EventPayloads
  extends
    StudioEventPayloads,
    RoomEventPayloads,
    ArchiveEventPayloads,
    CompositionEventPayloads,
    DeliveryEventPayloads,
    HealthEventPayloads {}

export type EventType = keyof EventPayloads;

export interface StudioEvent<K extends EventType = EventType> {
  /** Unique id (also the webhook message id). */
  id: string;
  /** Store-assigned order of events, increasing; 0 for events that are not persisted. */
  seq: number;
  type: K;
  /** Milliseconds since the epoch. */
  createdAt: number;
  roomId?: string;
  archiveId?: string;
  data: EventPayloads[K];
}

/** Any event, discriminated by `type`. */
export type AnyStudioEvent = { [K in EventType]: StudioEvent<K> }[EventType];

/** Messages on the operator's event socket (`/api/events`). */
export type EventSocketClientMessage = { type: 'auth'; token: string };
export type EventSocketServerMessage =
  | { type: 'ready' }
  | { type: 'error'; code: string; message: string }
  | { type: 'event'; event: AnyStudioEvent };
