import { createReadStream } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
// Only the RouteModule type: the composition part has no runtime dependency on the HTTP layer.
import type { RouteModule } from '../HttpServer';
import { allow } from '../access';
import type { CompositionMedia, CompositionService } from '../../composition/CompositionService';
import { StudioError } from '../../../shared/errors';
import { parseWith } from '../../../shared/validation';
import { statusCallbackSchema } from '../../../shared/webhooks';
import type { StatusCallbackScope, WebhookService } from '../../webhooks/WebhookService';

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

/** Takes `statusCallback` out of a body (the composition's own schema stays strict). */
function takeStatusCallback(body: unknown): { rest: unknown; url: string | null | undefined } {
  if (body === null || typeof body !== 'object' || Array.isArray(body) || !('statusCallback' in body))
    return { rest: body, url: undefined };
  const { statusCallback, ...rest } = body as Record<string, unknown>;
  if (statusCallback === null) return { rest, url: null };
  return { rest, url: parseWith(statusCallbackSchema, statusCallback, 'statusCallback') };
}

/**
 * Compositions and composition hooks (operator API, authenticated like all of /api):
 * `POST/GET /api/compositions`, `GET/DELETE /api/compositions/{id}`,
 * `GET /api/compositions/{id}/media` (Range), and CRUD on `/api/composition-hooks`. A
 * composition or hook may have a `statusCallback` URL (Twilio's StatusCallback): it receives
 * that composition's events (or those of the hook's compositions), signed like every webhook;
 * the answer that sets it carries its signing secret once (`statusCallbackSecret`).
 */
export function compositionRoutes(service: CompositionService, webhooks?: WebhookService): RouteModule {
  return (app: FastifyInstance) => {
    const withCallback = <T extends { id: string }>(json: T, scope: StatusCallbackScope) => ({
      ...json,
      statusCallback: webhooks?.statusCallbackOf(scope) ?? null,
    });
    const needWebhooks = (url: string | null | undefined): WebhookService | null => {
      if (url === undefined) return null;
      if (webhooks === undefined)
        throw new StudioError('Unavailable', 'status callbacks are not available', 'statusCallback');
      return webhooks;
    };

    app.post('/api/compositions', allow('operatorOrProject'), async (request, reply) => {
      const { rest, url } = takeStatusCallback(request.body);
      const hooks = needWebhooks(url);
      const since = hooks?.lastEventSeq();
      const created = service.create(rest);
      if (hooks === null || url === null || url === undefined) return reply.status(201).send(created);
      // Registered from before the creation: `composition.enqueued` reaches it too.
      const { secret } = hooks.setStatusCallback({ compositionId: created.id }, url, since);
      return reply.status(201).send({ ...created, statusCallback: url, statusCallbackSecret: secret });
    });
    app.get('/api/compositions', allow('operatorOrProject'), async (request) => service.list(request.query));
    app.get<{ Params: { id: string } }>(
      '/api/compositions/:id',
      allow('operatorOrProject'),
      async (request) => withCallback(service.get(request.params.id), { compositionId: request.params.id }),
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

    app.post('/api/composition-hooks', allow('operatorOrProject'), async (request, reply) => {
      const { rest, url } = takeStatusCallback(request.body);
      const hooks = needWebhooks(url);
      const created = service.createHook(rest);
      if (hooks === null || url === null || url === undefined) return reply.status(201).send(created);
      const { secret } = hooks.setStatusCallback({ hookId: created.id }, url);
      return reply.status(201).send({ ...created, statusCallback: url, statusCallbackSecret: secret });
    });
    app.get('/api/composition-hooks', allow('operatorOrProject'), async () => {
      const list = service.listHooks();
      return { ...list, items: list.items.map((h) => withCallback(h, { hookId: h.id })) };
    });
    app.get<{ Params: { id: string } }>(
      '/api/composition-hooks/:id',
      allow('operatorOrProject'),
      async (request) => withCallback(service.getHook(request.params.id), { hookId: request.params.id }),
    );
    app.patch<{ Params: { id: string } }>(
      '/api/composition-hooks/:id',
      allow('operatorOrProject'),
      async (request) => {
        const { rest, url } = takeStatusCallback(request.body);
        const hooks = needWebhooks(url);
        const updated = service.updateHook(request.params.id, rest);
        if (hooks === null) return withCallback(updated, { hookId: updated.id });
        if (url === null || url === undefined) {
          hooks.removeStatusCallback({ hookId: updated.id });
          return { ...updated, statusCallback: null };
        }
        // The same URL keeps its registration, secret and undelivered messages: no new secret.
        const { secret } = hooks.setStatusCallback({ hookId: updated.id }, url);
        return {
          ...updated,
          statusCallback: url,
          ...(secret !== null ? { statusCallbackSecret: secret } : {}),
        };
      },
    );
    app.delete<{ Params: { id: string } }>(
      '/api/composition-hooks/:id',
      allow('operatorOrProject'),
      async (request, reply) => {
        service.deleteHook(request.params.id);
        webhooks?.removeStatusCallback({ hookId: request.params.id });
        return reply.status(204).send();
      },
    );
  };
}
