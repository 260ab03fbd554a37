/** The one event model: the event socket and webhooks carry these. */

/** Payload of each event type. */
export interface EventPayloads {
  'studio.started': { version: string };
  'studio.health': { freeBytes: number; uptimeSec: number };
}

export type EventType = keyof EventPayloads;

export interface StudioEvent<K extends EventType = EventType> {
  /** Unique id (also the webhook message id). */
  id: string;
  /** Store-assigned order of events, increasing. */
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
