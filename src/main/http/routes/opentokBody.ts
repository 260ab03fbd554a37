import type { FastifyRequest } from 'fastify';
import { clientName } from '../../../shared/validation';

/**
 * OpenTok-compatible routes accept what newer SDKs send: fields the studio does not know
 * (`hasTranscription`, `transcriptionProperties`, …) are dropped with a warning in the log,
 * not refused. The studio's own `/api` routes stay strict.
 */
export function lenientBody(request: FastifyRequest, known: readonly string[], what: string): unknown {
  const body = request.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  const kept: Record<string, unknown> = {};
  const ignored: string[] = [];
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    if (known.includes(key)) kept[key] = value;
    else ignored.push(key);
  }
  if (ignored.length > 0) {
    // Named once, each shortened, at most twenty: the client chooses how many and how long.
    const named = ignored.slice(0, 20).map((key) => clientName(key));
    const more = ignored.length > named.length ? ` and ${ignored.length - named.length} more` : '';
    request.log.warn(
      { route: request.routeOptions.url, ignoredCount: ignored.length },
      `${what}: ignored fields the studio does not support: ${named.join(', ')}${more}`,
    );
  }
  return kept;
}
