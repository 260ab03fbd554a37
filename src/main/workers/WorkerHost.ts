import type { MessagePort } from 'node:worker_threads';
import { StudioError } from '../../shared/errors';
import type { Logger } from '../logger';
import {
  errorToBody,
  isMessage,
  PROTOCOL_VERSION,
  type NotificationMessage,
  type PortMessage,
  type RequestMessage,
  type ResponseMessage,
  type WorkerEvent,
  type WorkerEvents,
  type WorkerMethod,
  type WorkerMethods,
} from './protocol';

/** Handles one request method inside the worker. */
export type Handler<M extends WorkerMethod> = (
  params: WorkerMethods[M]['params'],
) => WorkerMethods[M]['result'] | Promise<WorkerMethods[M]['result']>;

/** Handlers by method; a method without one answers `Unavailable`. */
export type Handlers = { [M in WorkerMethod]?: Handler<M> };

/**
 * The worker side of the protocol: answers the main thread's requests from its handlers (each
 * request once, errors with their StudioError code) and sends notifications.
 */
export class WorkerHost {
  readonly #port: MessagePort;
  readonly #handlers: Handlers;
  readonly #logger: Logger;

  /** A route port to another worker arrived. */
  onPort: ((peerIndex: number, port: MessagePort) => void) | null = null;

  constructor(port: MessagePort, handlers: Handlers, logger: Logger) {
    this.#port = port;
    this.#handlers = handlers;
    this.#logger = logger;
    port.on('message', (message: unknown) => this.#receive(message));
  }

  /** Sends a notification to the main thread. */
  notify<E extends WorkerEvent>(event: E, data: WorkerEvents[E]): void {
    this.#port.postMessage({ v: PROTOCOL_VERSION, kind: 'notification', event, data } as NotificationMessage);
  }

  #receive(message: unknown): void {
    const port = message as Partial<PortMessage> | null;
    if (port?.kind === 'port' && port.v === PROTOCOL_VERSION && port.port !== undefined) {
      this.onPort?.(port.peerIndex!, port.port);
      return;
    }
    if (!isMessage(message) || message.kind !== 'request') {
      this.#logger.warn({ message }, 'media worker: not a request, ignored');
      return;
    }
    const request = message as RequestMessage;
    if (request.v !== PROTOCOL_VERSION) {
      this.#respond({
        v: PROTOCOL_VERSION,
        kind: 'response',
        id: request.id,
        ok: false,
        error: { code: 'Internal', message: `protocol version ${request.v} is not ${PROTOCOL_VERSION}` },
      });
      return;
    }
    void this.#dispatch(request);
  }

  async #dispatch(request: RequestMessage): Promise<void> {
    const handler = this.#handlers[request.method] as
      ((params: unknown) => unknown | Promise<unknown>) | undefined;
    try {
      if (handler === undefined)
        throw new StudioError('Unavailable', `the media worker has no method ${request.method}`, 'method');
      const result = await handler(request.params);
      this.#respond({
        v: PROTOCOL_VERSION,
        kind: 'response',
        id: request.id,
        ok: true,
        result: result ?? {},
      });
    } catch (error) {
      if (!(error instanceof StudioError))
        this.#logger.error({ err: error, method: request.method }, 'media worker request failed');
      this.#respond({
        v: PROTOCOL_VERSION,
        kind: 'response',
        id: request.id,
        ok: false,
        error: errorToBody(error),
      });
    }
  }

  #respond(message: ResponseMessage): void {
    this.#port.postMessage(message);
  }
}
