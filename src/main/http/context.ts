import type { FastifyRequest } from 'fastify';
import type { Health, StudioInfo, ThreadStats } from '../../shared/api';
import type { StudioConfig } from '../config/loadConfig';
import type { EventBus } from '../events/EventBus';
import type { Logger } from '../logger';
import type { Auth, Principal } from '../security/Auth';

/** What the HTTP layer needs from the rest of the studio. Services are added as they land. */
export interface HttpContext {
  config: StudioConfig;
  logger: Logger;
  bus: EventBus;
  auth: Auth;
  health(): Promise<Health>;
  info(): StudioInfo;
  /** Memory and load of the main thread and of each media worker. */
  threads?(): Promise<ThreadStats[]>;
  /** Ports the studio listens on (HTTP and HTTPS): the studio's own origins use them. */
  listenerPorts(): number[];
  /** Folder of the built renderer (index.html), or null when it has not been built. */
  rendererDir: string | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** The authenticated principal of a request that passed the auth hook. */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === undefined) throw new Error('route is missing the auth hook');
  return request.principal;
}
