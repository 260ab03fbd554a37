import { networkInterfaces } from 'node:os';
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { StudioError } from '../../shared/errors';
import { constantTimeEqual, type Principal } from '../security/Auth';
import type { HttpContext } from './context';
import { wantsWhipCors, whipCors } from './cors';

/**
 * Who may call a route. Every route declares one (`config: { access }`); a route without one
 * makes start-up fail. The decision is made on the matched route, never on the URL text.
 */
export const ACCESS_CLASSES = [
  /** Anyone: health, login, the UI shell and the guest join page. */
  'public',
  /** The operator's bearer token only (settings, credentials, remote playback). */
  'operator',
  /** The operator's bearer token or an OpenTok project JWT (`X-OPENTOK-AUTH`): the studio API. */
  'operatorOrProject',
  /**
   * The OpenTok-compatible routes (`/v2/…`, `/session/create`): a project JWT, the legacy
   * `X-TB-PARTNER-AUTH` header (only here), or the operator's bearer token (the UI uses them).
   */
  'project',
  /** The operator's event socket: the upgrade is open, the first message carries the token. */
  'operatorSocket',
  /** A guest join token, checked by the route itself (signaling in-band, WHIP bearer). */
  'guest',
  /** HTTP Basic with the file-server credentials. */
  'files',
  /** A signed link; its verifier is plugged in by the part that issues the links. */
  'signedLink',
] as const;

export type AccessClass = (typeof ACCESS_CLASSES)[number];

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call this route (required on every route). */
    access?: AccessClass;
    /**
     * Body types this route accepts, instead of `application/json` (WHIP's SDP; OpenTok's forms
     * list JSON too).
     */
    bodyTypes?: readonly string[];
    /** Callers on any origin may use this route (WHIP: RFC 9725 wants CORS; bearer-only). */
    anyOrigin?: boolean;
  }
}

/** Checks a request of one access class; throws a StudioError to refuse, returns the principal. */
export type AccessVerifier = (request: FastifyRequest, reply: FastifyReply) => Promise<Principal | undefined>;

export const FILES_REALM = 'Basic realm="Spool Studio files", charset="UTF-8"';

/** Whether an `Authorization: Basic …` header names this user and password (constant time). */
export function basicAuthMatches(header: string | undefined, user: string, password: string): boolean {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header?.trim() ?? '');
  if (match === null) return false;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return false;
  // Both compared in full, in constant time, so the answer time says nothing about either.
  const userOk = constantTimeEqual(decoded.slice(0, colon), user);
  const passwordOk = constantTimeEqual(decoded.slice(colon + 1), password);
  return userOk && passwordOk;
}

/** Refuses a route without a declared access class at registration (start-up fails). */
export function requireAccessClass(route: RouteOptions): void {
  const access = route.config?.access;
  if (access === undefined || !(ACCESS_CLASSES as readonly string[]).includes(access)) {
    const methods = Array.isArray(route.method) ? route.method.join(',') : route.method;
    throw new Error(
      `route ${methods} ${route.url} declares no access class; add config: { access: ${ACCESS_CLASSES.map((c) => `'${c}'`).join(' | ')} }`,
    );
  }
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];

/** The host names this studio answers to: loopback, its listen and LAN addresses, configured names. */
export function allowedHostNames(ctx: HttpContext): Set<string> {
  const { bindAddress, lanAddress, allowedHosts } = ctx.config.settings;
  const names = new Set<string>(LOOPBACK_NAMES);
  for (const name of [bindAddress, lanAddress, ...allowedHosts]) {
    if (name !== null) names.add(name.toLowerCase());
  }
  if (bindAddress === '0.0.0.0' || bindAddress === '::') {
    // Listening on every interface: each of this machine's addresses is its own name.
    for (const list of Object.values(networkInterfaces())) {
      for (const address of list ?? []) names.add(address.address.toLowerCase());
    }
  }
  return names;
}

/** `example:80` → `example`; `[::1]:80` → `::1`; null when it is not a host. */
export function hostNameOf(host: string): string | null {
  const value = host.trim().toLowerCase();
  if (value === '') return null;
  const v6 = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/.exec(value);
  if (v6 !== null) return v6[1]!;
  const plain = /^([a-z0-9.-]+)(?::\d{1,5})?$/.exec(value);
  return plain === null ? null : plain[1]!;
}

/** Whether an `Origin` is the studio's own: an allowed host on one of its listener ports. */
export function isOwnOrigin(origin: string, ctx: HttpContext, hosts: Set<string>): boolean {
  if (ctx.config.settings.allowedOrigins.includes(origin)) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  const name = hostNameOf(url.host);
  if (name === null || !hosts.has(name)) return false;
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  return ctx.listenerPorts().includes(port);
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function mediaType(request: FastifyRequest): string | null {
  const header = request.headers['content-type'];
  if (header === undefined) return null;
  return header.split(';')[0]!.trim().toLowerCase();
}

function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return (length !== undefined && length !== '0') || request.headers['transfer-encoding'] !== undefined;
}

function refuse(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  code: 'PermissionDenied' | 'InvalidArgument',
  message: string,
) {
  // A browser WHIP client on another origin must be able to read why it was refused.
  if (wantsWhipCors(request)) whipCors(reply);
  return reply.status(status).send({ code, message });
}

/**
 * The one gate every request passes (an `onRequest` hook on the root): the Host allowlist,
 * the Origin check, the body type of state-changing requests, then the route's access class.
 */
export function accessGate(ctx: HttpContext, verifiers: Partial<Record<AccessClass, AccessVerifier>>) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const hosts = allowedHostNames(ctx);
    const name = hostNameOf(request.headers.host ?? '');
    if (name === null || !hosts.has(name)) {
      // A page on another name (DNS rebinding) or a misrouted request: not this studio.
      return refuse(
        request,
        reply,
        421,
        'PermissionDenied',
        `this studio does not answer to the host name "${request.headers.host ?? ''}"; add it to allowedHosts to allow it`,
      );
    }
    const config = request.routeOptions.config;
    if (request.is404 || config === undefined) return undefined;
    const access = config.access;
    if (access === undefined) return refuse(request, reply, 403, 'PermissionDenied', 'this route is closed');

    const origin = request.headers.origin;
    if (origin !== undefined && config.anyOrigin !== true && !isOwnOrigin(origin, ctx, hosts)) {
      return refuse(
        request,
        reply,
        403,
        'PermissionDenied',
        `requests from the origin ${origin} are not allowed`,
      );
    }
    if (STATE_CHANGING.has(request.method)) {
      const type = mediaType(request);
      if (type !== null || hasBody(request)) {
        const accepted = config.bodyTypes ?? ['application/json'];
        if (type === null || !accepted.includes(type)) {
          return refuse(
            request,
            reply,
            415,
            'InvalidArgument',
            `${request.method} bodies must be Content-Type: ${accepted.join(' or ')}`,
          );
        }
      }
    }

    const verify = verifiers[access];
    if (verify === undefined) {
      if (access === 'public' || access === 'guest' || access === 'operatorSocket') return undefined;
      throw new StudioError('PermissionDenied', `no verifier for ${access} access is installed`);
    }
    const principal = await verify(request, reply);
    if (principal !== undefined) request.principal = principal;
    return undefined;
  };
}

/** Route options that declare an access class: `app.get(url, allow('operator'), handler)`. */
export function allow(
  access: AccessClass,
  extra: { bodyTypes?: readonly string[]; anyOrigin?: boolean } = {},
): { config: { access: AccessClass; bodyTypes?: readonly string[]; anyOrigin?: boolean } } {
  return { config: { access, ...extra } };
}
