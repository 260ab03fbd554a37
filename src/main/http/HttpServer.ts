import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import formbody from '@fastify/formbody';
import fastifyStatic from '@fastify/static';
import websocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyInstance, type FastifyRequest } from 'fastify';
import { StudioError } from '../../shared/errors';
import type { AllowedCredentials } from '../security/Auth';
import {
  accessGate,
  basicAuthMatches,
  FILES_REALM,
  requireAccessClass,
  type AccessClass,
  type AccessVerifier,
} from './access';
import type { HttpContext } from './context';
import { answerClientError, answerFrameworkError, installErrorHandling } from './errors';
import { eventSocketRoutes } from './routes/eventSocket';
import { systemRoutes } from './routes/system';

/** A route module: registers its routes on an app (the plain and the HTTPS listener both get them). */
export type RouteModule = (app: FastifyInstance, ctx: HttpContext) => void;

export interface HttpServerOptions {
  host: string;
  port: number;
  /** TLS key and certificate: serve HTTPS (the LAN listener for guests). */
  https?: { key: string; cert: string };
  /** Route modules beyond the system routes, from the services. */
  routes?: RouteModule[];
  /** Verifiers of access classes beyond the built-in ones (e.g. signed links). */
  verifiers?: Partial<Record<AccessClass, AccessVerifier>>;
}

/** The client a failed credential is counted against. */
const clientOf = (request: FastifyRequest): string => request.ip;

/** Whether a body is valid JSON (only asked of one the safe parser refused). */
function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Valid JSON with a key that could reach an object's prototype: refused, and said so. */
const prototypeKeyRefused = (): StudioError =>
  new StudioError(
    'InvalidArgument',
    'request body: a "__proto__" key, or a "constructor" key holding "prototype", is not allowed',
  );

/** The verifiers of the access classes the HTTP layer knows itself. */
function builtInVerifiers(ctx: HttpContext): Partial<Record<AccessClass, AccessVerifier>> {
  const authenticate = (request: FastifyRequest, allow: AllowedCredentials) =>
    ctx.auth.authenticate(request.headers, allow, clientOf(request));
  const apiKeyMatches = (request: FastifyRequest) => {
    const params = request.params as { apiKey?: string } | undefined;
    if (params?.apiKey !== undefined && params.apiKey !== ctx.auth.apiKey) {
      throw new StudioError(
        'PermissionDenied',
        `API key ${params.apiKey} is not this studio's API key`,
        'apiKey',
      );
    }
  };
  return {
    operator: (request) => authenticate(request, { operator: true, project: false, partner: false }),
    operatorOrProject: (request) => authenticate(request, { operator: true, project: true, partner: false }),
    project: async (request) => {
      const principal = await authenticate(request, { operator: true, project: true, partner: true });
      apiKeyMatches(request);
      return principal;
    },
    files: async (request, reply) => {
      const { filesUser, filesPassword } = ctx.config.settings;
      if (!basicAuthMatches(request.headers.authorization, filesUser, filesPassword)) {
        reply.header('WWW-Authenticate', FILES_REALM);
        throw new StudioError(
          'Unauthenticated',
          request.headers.authorization === undefined
            ? 'HTTP Basic credentials required'
            : 'wrong file-server user or password',
        );
      }
      return undefined;
    },
    // Nothing issues signed links yet: refuse until their verifier is plugged in.
    signedLink: async () => {
      throw new StudioError('PermissionDenied', 'signed links are not enabled');
    },
  };
}

/**
 * How long a closing server lets requests in flight finish before it ends their connections. A
 * client that stops reading a download (or never ends one) held the studio's shutdown for
 * 25–34 s, until its socket timed out.
 */
export const HTTP_CLOSE_GRACE_MS = 2000;

/** Security headers on every response (the UI's needs listed; nothing else may load or frame it). */
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': [
    "default-src 'self'",
    "script-src 'self'",
    // 'self' covers the same host's ws:/wss: (the event and signaling sockets).
    "connect-src 'self'",
    "media-src 'self' blob: mediastream:",
    "img-src 'self' data: blob:",
    "style-src 'self' 'unsafe-inline'",
    "worker-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; '),
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
};

/** One HTTP(S) listener serving the API, the event socket and the built renderer. */
export class HttpServer {
  readonly app: FastifyInstance;
  /** Every registered route with its access class (the security tests walk it). */
  readonly routeTable: Array<{ method: string; url: string; access: AccessClass }> = [];
  readonly #options: HttpServerOptions;
  readonly #inFlight = new Set<FastifyRequest>();
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
      frameworkErrors: answerFrameworkError,
      clientErrorHandler: answerClientError,
    }) as unknown as FastifyInstance;
    const app = this.app;
    installErrorHandling(app);
    // Requests in flight, to name those a closing server has to cut (`close`); a response's
    // 'close' comes once it has been sent or its connection has gone (an upgraded socket's too).
    app.addHook('onRequest', async (request, reply) => {
      this.#inFlight.add(request);
      reply.raw.once('close', () => this.#inFlight.delete(request));
    });
    // Deny by default: a route that does not say who may call it stops start-up.
    app.addHook('onRoute', (route) => {
      requireAccessClass(route);
      for (const method of [route.method].flat()) {
        this.routeTable.push({ method, url: route.url, access: route.config!.access! });
      }
    });
    app.addHook('onSend', async (_request, reply) => {
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
        if (!reply.hasHeader(name)) reply.header(name, value);
      }
    });
    // `Content-Type: application/json` with an empty body is an empty object (OpenTok clients
    // send it on POSTs without options); anything else goes to the safe default parser.
    const parseJson = app.getDefaultJsonParser('error', 'error');
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      if (typeof body === 'string' && body.trim() === '') {
        done(null, {});
        return;
      }
      const text = typeof body === 'string' ? body : body.toString('utf8');
      parseJson(request, text, (error, parsed) => {
        if (error === null) return done(null, parsed);
        // The safe parser refuses prototype keys as if the JSON were broken; when it is valid
        // JSON, say which keys are refused (the parsed value is dropped unused).
        done(isJson(text) ? prototypeKeyRefused() : error, undefined);
      });
    });
    app.register(formbody);
    app.register(websocket, { options: { maxPayload: 1024 * 1024 } });
    // After the websocket plugin's own hook: a refused upgrade must still have its socket closed.
    app.after(() => {
      app.addHook('onRequest', accessGate(ctx, { ...builtInVerifiers(ctx), ...options.verifiers }));
    });
    // reply.sendFile serves archive files and the renderer (Range, types, no traversal).
    const serveRenderer = ctx.rendererDir !== null && existsSync(ctx.rendererDir);
    app.register(fastifyStatic, {
      root: serveRenderer ? ctx.rendererDir! : ctx.config.dataDir,
      serve: false,
    });
    app.register(async (scoped) => {
      systemRoutes(scoped, ctx);
      eventSocketRoutes(scoped, ctx);
      for (const routes of options.routes ?? []) routes(scoped, ctx);
      if (serveRenderer) {
        const rendererDir = ctx.rendererDir!;
        scoped.get<{ Params: { '*': string } }>(
          '/*',
          { config: { access: 'public' } },
          async (request, reply) => {
            const path = request.params['*'];
            return reply.sendFile(
              path === '' || path.endsWith('/') ? `${path}index.html` : path,
              rendererDir,
            );
          },
        );
      }
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

  /**
   * Stops accepting connections and waits for the requests in flight, for at most
   * `HTTP_CLOSE_GRACE_MS`; then ends the connections still open (with the requests in flight
   * named in the log). Idle keep-alive connections close at once (Fastify's default), event
   * sockets with 1001.
   */
  async close(graceMs = HTTP_CLOSE_GRACE_MS): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const grace = setTimeout(() => {
      this.app.log.warn(
        {
          graceMs,
          requests: [...this.#inFlight].map((r) => `${r.method} ${r.routeOptions.url ?? '(no route)'}`),
        },
        'closing: ending the connections still open',
      );
      this.app.server.closeAllConnections();
    }, graceMs);
    try {
      await this.app.close();
    } finally {
      clearTimeout(grace);
    }
  }
}
