import { createReadStream } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
// Only the RouteModule type: the composition part has no runtime dependency on the HTTP layer.
import type { RouteModule } from '../HttpServer';
import { allow } from '../access';
import type { CompositionMedia, CompositionService } from '../../composition/CompositionService';

/** Parses `Range: bytes=a-b` (one range) against a size; null: no or unusable header. */
function byteRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | 'unsatisfiable' | null {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header?.trim() ?? '');
  if (match === null || (match[1] === '' && match[2] === '')) return null;
  let start: number;
  let end: number;
  if (match[1] === '') {
    // A suffix range: the last N bytes.
    start = Math.max(0, size - Number(match[2]));
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(size - 1, Number(match[2]));
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}

/** Sends a media file with Range support (players seek with range requests). */
function sendMedia(request: FastifyRequest, reply: FastifyReply, media: CompositionMedia): FastifyReply {
  reply.header('Accept-Ranges', 'bytes');
  reply.header('Content-Type', media.contentType);
  reply.header('Content-Disposition', `inline; filename="${media.downloadName}"`);
  const range = byteRange(request.headers.range, media.size);
  if (range === 'unsatisfiable') {
    reply.header('Content-Range', `bytes */${media.size}`);
    return reply.status(416).send();
  }
  if (range === null) {
    reply.header('Content-Length', media.size);
    return reply.status(200).send(createReadStream(media.path));
  }
  reply.header('Content-Range', `bytes ${range.start}-${range.end}/${media.size}`);
  reply.header('Content-Length', range.end - range.start + 1);
  return reply.status(206).send(createReadStream(media.path, { start: range.start, end: range.end }));
}

/**
 * Compositions and composition hooks (operator API, authenticated like all of /api):
 * `POST/GET /api/compositions`, `GET/DELETE /api/compositions/{id}`,
 * `GET /api/compositions/{id}/media` (Range), and CRUD on `/api/composition-hooks`.
 */
export function compositionRoutes(service: CompositionService): RouteModule {
  return (app: FastifyInstance) => {
    app.post('/api/compositions', allow('operatorOrProject'), async (request, reply) =>
      reply.status(201).send(service.create(request.body)),
    );
    app.get('/api/compositions', allow('operatorOrProject'), async (request) => service.list(request.query));
    app.get<{ Params: { id: string } }>(
      '/api/compositions/:id',
      allow('operatorOrProject'),
      async (request) => service.get(request.params.id),
    );
    app.delete<{ Params: { id: string } }>(
      '/api/compositions/:id',
      allow('operatorOrProject'),
      async (request, reply) => {
        await service.delete(request.params.id);
        return reply.status(204).send();
      },
    );
    app.get<{ Params: { id: string } }>(
      '/api/compositions/:id/media',
      allow('operatorOrProject'),
      async (request, reply) => sendMedia(request, reply, service.media(request.params.id)),
    );

    app.post('/api/composition-hooks', allow('operatorOrProject'), async (request, reply) =>
      reply.status(201).send(service.createHook(request.body)),
    );
    app.get('/api/composition-hooks', allow('operatorOrProject'), async () => service.listHooks());
    app.get<{ Params: { id: string } }>(
      '/api/composition-hooks/:id',
      allow('operatorOrProject'),
      async (request) => service.getHook(request.params.id),
    );
    app.patch<{ Params: { id: string } }>(
      '/api/composition-hooks/:id',
      allow('operatorOrProject'),
      async (request) => service.updateHook(request.params.id, request.body),
    );
    app.delete<{ Params: { id: string } }>(
      '/api/composition-hooks/:id',
      allow('operatorOrProject'),
      async (request, reply) => {
        service.deleteHook(request.params.id);
        return reply.status(204).send();
      },
    );
  };
}
