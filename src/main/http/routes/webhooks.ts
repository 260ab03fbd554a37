import type { FastifyInstance } from 'fastify';
import type { RouteModule } from '../HttpServer';
import type { WebhookService } from '../../webhooks/WebhookService';

type IdParams = { Params: { id: string } };
type CallbackParams = { Params: { apiKey: string; callbackId: string } };

/** Studio webhooks (`/api/webhooks`) and OpenTok callbacks (`/v2/project/{apiKey}/callback`). */
export function webhookRoutes(service: WebhookService): RouteModule {
  return (app: FastifyInstance) => {
    app.get('/api/webhooks', async () => ({ items: service.list() }));
    app.post('/api/webhooks', async (request, reply) => reply.status(201).send(service.create(request.body)));
    app.get<IdParams>('/api/webhooks/:id', async (request) => service.get(request.params.id));
    app.patch<IdParams>('/api/webhooks/:id', async (request) =>
      service.update(request.params.id, request.body),
    );
    app.delete<IdParams>('/api/webhooks/:id', async (request, reply) => {
      service.delete(request.params.id);
      return reply.status(204).send();
    });
    app.get<IdParams>('/api/webhooks/:id/deliveries', async (request) => ({
      items: service.deliveries(request.params.id, request.query),
    }));

    // OpenTok's callback API, under both of its prefixes; the auth hook checks the API key.
    for (const prefix of ['/v2/project/:apiKey', '/v2/partner/:apiKey']) {
      app.post(`${prefix}/callback`, async (request) => service.createCallback(request.body));
      app.get(`${prefix}/callback`, async () => service.listCallbacks());
      app.delete<CallbackParams>(`${prefix}/callback/:callbackId`, async (request, reply) => {
        service.deleteCallback(request.params.callbackId);
        return reply.status(204).send();
      });
    }
  };
}
