import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import formbody from '@fastify/formbody';
import fastifyStatic from '@fastify/static';
import websocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyInstance, type FastifyRequest } from 'fastify';
import { StudioError } from '../../shared/errors';
import type { HttpContext } from './context';
import { installErrorHandling } from './errors';
import { eventSocketRoutes } from './routes/eventSocket';
import { systemRoutes } from './routes/system';

/** A route module: registers its routes on an app (the plain and the HTTPS listener both get them). */
export type RouteModule = (app: FastifyInstance, ctx: HttpContext) => void;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** No credentials needed (login, sockets that authenticate in-band, guest pages). */
    public?: boolean;
    /** Project or operator credentials needed even outside /api and /v2. */
    auth?: boolean;
  }
}

export interface HttpServerOptions {
  host: string;
  port: number;
  /** TLS key and certificate: serve HTTPS (the LAN listener for guests). */
  https?: { key: string; cert: string };
  /** Route modules beyond the system routes, from the services. */
  routes?: RouteModule[];
}

function needsAuth(request: FastifyRequest): boolean {
  const config = request.routeOptions.config;
  if (config?.public === true) return false;
  if (config?.auth === true) return true;
  const url = request.url;
  return url.startsWith('/api/') || url.startsWith('/v2/');
}

async function authHook(ctx: HttpContext, request: FastifyRequest): Promise<void> {
  if (!needsAuth(request)) return;
  request.principal = await ctx.auth.authenticate(request.headers);
  const params = request.params as { apiKey?: string } | undefined;
  if (params?.apiKey !== undefined && params.apiKey !== ctx.auth.apiKey) {
    throw new StudioError(
      'PermissionDenied',
      `API key ${params.apiKey} is not this studio's API key`,
      'apiKey',
    );
  }
}

/** One HTTP(S) listener serving the API, the event socket and the built renderer. */
export class HttpServer {
  readonly app: FastifyInstance;
  readonly #options: HttpServerOptions;
  #closed = false;

  constructor(ctx: HttpContext, options: HttpServerOptions) {
    this.#options = options;
    this.app = Fastify({
      loggerInstance: ctx.logger.child({ part: 'http' }),
      logController: new LogController({ disableRequestLogging: true }),
      ...(options.https ? { https: options.https } : {}),
      trustProxy: false,
      bodyLimit: 1024 * 1024,
      routerOptions: { ignoreTrailingSlash: true },
    }) as unknown as FastifyInstance;
    const app = this.app;
    installErrorHandling(app);
    // `Content-Type: application/json` with an empty body is an empty object (OpenTok clients
    // send it on POSTs without options); anything else goes to the safe default parser.
    const parseJson = app.getDefaultJsonParser('error', 'error');
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      if (typeof body === 'string' && body.trim() === '') {
        done(null, {});
        return;
      }
      parseJson(request, typeof body === 'string' ? body : body.toString('utf8'), done);
    });
    app.register(formbody);
    app.register(websocket, { options: { maxPayload: 1024 * 1024 } });
    app.addHook('onRequest', async (request) => authHook(ctx, request));
    app.register(async (scoped) => {
      systemRoutes(scoped, ctx);
      eventSocketRoutes(scoped, ctx);
      for (const routes of options.routes ?? []) routes(scoped, ctx);
    });
    // Always registered: reply.sendFile serves archive files too (Range, types, no traversal).
    const serveRenderer = ctx.rendererDir !== null && existsSync(ctx.rendererDir);
    app.register(fastifyStatic, {
      root: serveRenderer ? ctx.rendererDir! : ctx.config.dataDir,
      serve: serveRenderer,
      index: ['index.html'],
      wildcard: true,
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Starts listening; resolves with the bound port. */
  async listen(): Promise<number> {
    await this.app.listen({ host: this.#options.host, port: this.#options.port });
    return (this.app.server.address() as AddressInfo).port;
  }

  get port(): number {
    return (this.app.server.address() as AddressInfo | null)?.port ?? 0;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.app.close();
  }
}
