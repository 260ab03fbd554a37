import type { FastifyInstance } from 'fastify';
import type { RouteModule } from '../HttpServer';
import { allow } from '../access';
import type { WebhookService } from '../../webhooks/WebhookService';

type IdParams = { Params: { id: string } };
type CallbackParams = { Params: { apiKey: string; callbackId: string } };

/** Studio webhooks (`/api/webhooks`) and OpenTok callbacks (`/v2/project/{apiKey}/callback`). */
export function webhookRoutes(service: WebhookService): RouteModule {
  return (app: FastifyInstance) => {
    app.get('/api/webhooks', allow('operatorOrProject'), async () => ({ items: service.list() }));
    app.post('/api/webhooks', allow('operatorOrProject'), async (request, reply) =>
      reply.status(201).send(service.create(request.body)),
    );
    app.get<IdParams>('/api/webhooks/:id', allow('operatorOrProject'), async (request) =>
      service.get(request.params.id),
    );
    app.patch<IdParams>('/api/webhooks/:id', allow('operatorOrProject'), async (request) =>
      service.update(request.params.id, request.body),
    );
    app.delete<IdParams>('/api/webhooks/:id', allow('operatorOrProject'), async (request, reply) => {
      service.delete(request.params.id);
      return reply.status(204).send();
    });
    app.get<IdParams>('/api/webhooks/:id/deliveries', allow('operatorOrProject'), async (request) => ({
      items: service.deliveries(request.params.id, request.query),
    }));

    // OpenTok's callback API, under both of its prefixes; the auth hook checks the API key.
    for (const prefix of ['/v2/project/:apiKey', '/v2/partner/:apiKey']) {
      app.post(`${prefix}/callback`, allow('project'), async (request) =>
        service.createCallback(request.body),
      );
      app.get(`${prefix}/callback`, allow('project'), async () => service.listCallbacks());
      app.delete<CallbackParams>(
        `${prefix}/callback/:callbackId`,
        allow('project'),
        async (request, reply) => {
          service.deleteCallback(request.params.callbackId);
          return reply.status(204).send();
        },
      );
    }
  };
}
