import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * CORS for WHIP (RFC 9725 §4.7): browser-based WHIP clients on other origins must read Location
 * and ETag, and their errors: without these headers a browser hands the client an opaque network
 * error instead of the 401, 415 or 404 and its reason.
 */
export function whipCors(reply: FastifyReply): void {
  reply.header('Access-Control-Allow-Origin', '*');
  reply.header('Access-Control-Allow-Methods', 'POST, PATCH, DELETE, OPTIONS');
  reply.header('Access-Control-Allow-Headers', 'Authorization, Content-Type, If-Match');
  reply.header('Access-Control-Expose-Headers', 'Location, ETag, Link, Accept-Patch');
}

/** The WHIP endpoint and session paths (`/whip/{roomId}`, `/whip/{roomId}/{resourceId}`). */
const WHIP_PATH = /^\/whip\/[^/?#]+(?:\/[^/?#]+)?\/?$/;

/**
 * Whether an answer to this request gets the WHIP CORS headers: a matched route open to any
 * origin (the WHIP routes, `anyOrigin`), or, when no route matched (404), a path of the WHIP
 * endpoint's shape (a method it does not take). Decided on the route, not on URL text.
 */
export function wantsWhipCors(request: FastifyRequest): boolean {
  if (!request.is404) return request.routeOptions.config?.anyOrigin === true;
  return WHIP_PATH.test(request.url.split('?')[0]!);
}
