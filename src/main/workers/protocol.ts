import type { ErrorBody, ErrorCode } from '../../shared/errors';
import { StudioError } from '../../shared/errors';

/**
 * The one protocol between the main thread and a media worker (docs/threads.md): typed
 * requests with ids answered by one response each, and notifications without replies. Every
 * message carries the version; a worker built from other sources is refused at start.
 */
export const PROTOCOL_VERSION = 1;

/** What one thread reports about its memory and load. */
export interface ThreadStats {
  /** `main`, `media-0`, `media-1`… */
  name: string;
  threadId: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** Share of the last interval the thread's event loop was busy (0..1). */
  eventLoopUtilization: number;
}

/** Requests the main thread sends to a media worker: method → params and result. */
export interface WorkerMethods {
  /** Liveness (the pool's heartbeat). */
  ping: { params: Record<string, never>; result: { at: number } };
  /** Heap and event-loop figures of the worker's isolate. */
  stats: { params: Record<string, never>; result: Omit<ThreadStats, 'name'> };
  /** Closes everything the worker hosts; the pool then terminates it. */
  shutdown: { params: Record<string, never>; result: Record<string, never> };
  /** Test-only faults (refused unless the pool started the worker with `allowFaults`). */
  'fault.throw': { params: { message: string }; result: Record<string, never> };
  'fault.hang': { params: Record<string, never>; result: Record<string, never> };
}

/** Notifications a media worker sends to the main thread: event → data. */
export interface WorkerEvents {
  /** The worker loaded and listens for requests (its first message). */
  ready: { pid: number; threadId: number };
}

export type WorkerMethod = keyof WorkerMethods;
export type WorkerEvent = keyof WorkerEvents;

export type RequestMessage = {
  [M in WorkerMethod]: {
    v: number;
    kind: 'request';
    id: number;
    method: M;
    params: WorkerMethods[M]['params'];
  };
}[WorkerMethod];

export type ResponseMessage =
  | { v: number; kind: 'response'; id: number; ok: true; result: unknown }
  | { v: number; kind: 'response'; id: number; ok: false; error: ErrorBody };

export type NotificationMessage = {
  [E in WorkerEvent]: { v: number; kind: 'notification'; event: E; data: WorkerEvents[E] };
}[WorkerEvent];

/** Data the pool passes to a worker at start (`workerData`). */
export interface MediaWorkerData {
  /** Index of the worker in the pool (`media-<index>`). */
  index: number;
  /** The main thread's protocol version (the worker refuses another). */
  protocolVersion: number;
  /** Accept the `fault.*` requests (tests). */
  allowFaults: boolean;
  /** pino level of the worker's logger. */
  logLevel: string;
}

const CODES = new Set<ErrorCode>([
  'InvalidArgument',
  'Unauthenticated',
  'PermissionDenied',
  'NotFound',
  'Conflict',
  'PayloadTooLarge',
  'RateLimited',
  'Unavailable',
  'Internal',
]);

/** An error as it crosses the thread boundary: StudioErrors keep code, message and field. */
export function errorToBody(error: unknown): ErrorBody {
  if (error instanceof StudioError) return error.toBody();
  return { code: 'Internal', message: error instanceof Error ? error.message : String(error) };
}

/** The StudioError a response's error body stands for. */
export function errorFromBody(body: ErrorBody): StudioError {
  return new StudioError(CODES.has(body.code) ? body.code : 'Internal', body.message, body.field);
}

/** Whether a value is a message of this protocol (any version: the caller checks `v`). */
export function isMessage(value: unknown): value is RequestMessage | ResponseMessage | NotificationMessage {
  if (value === null || typeof value !== 'object') return false;
  const m = value as { v?: unknown; kind?: unknown };
  return (
    typeof m.v === 'number' && (m.kind === 'request' || m.kind === 'response' || m.kind === 'notification')
  );
}
