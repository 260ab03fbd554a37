import type { FastifyInstance } from 'fastify';
import type { RouteModule } from '../HttpServer';
import { allow } from '../access';
import type { DeliveryService } from '../../delivery/DeliveryService';

type IdParams = { Params: { id: string } };

/** Targets (`/api/targets`, with the test action) and deliveries (`/api/deliveries`). */
export function deliveryRoutes(service: DeliveryService): RouteModule {
  return (app: FastifyInstance) => {
    app.get('/api/targets', allow('operatorOrProject'), async () => ({ items: service.listTargets() }));
    app.post('/api/targets', allow('operatorOrProject'), async (request, reply) =>
      reply.status(201).send(service.createTarget(request.body)),
    );
    // Tests a config before it is saved.
    app.post('/api/targets/test', allow('operatorOrProject'), async (request) =>
      service.testTargetConfig(request.body),
    );
    app.get<IdParams>('/api/targets/:id', allow('operatorOrProject'), async (request) =>
      service.getTarget(request.params.id),
    );
    app.patch<IdParams>('/api/targets/:id', allow('operatorOrProject'), async (request) =>
      service.updateTarget(request.params.id, request.body),
    );
    app.put<IdParams>('/api/targets/:id', allow('operatorOrProject'), async (request) =>
      service.updateTarget(request.params.id, request.body, true),
    );
    app.delete<IdParams>('/api/targets/:id', allow('operatorOrProject'), async (request, reply) => {
      service.deleteTarget(request.params.id);
      return reply.status(204).send();
    });
    app.post<IdParams>('/api/targets/:id/test', allow('operatorOrProject'), async (request) =>
      service.testTarget(request.params.id, request.body),
    );

    app.get('/api/deliveries', allow('operatorOrProject'), async (request) => ({
      items: service.list(request.query),
    }));
    app.get<IdParams>('/api/deliveries/:id', allow('operatorOrProject'), async (request) =>
      service.get(request.params.id),
    );
    app.post<IdParams>('/api/deliveries/:id/retry', allow('operatorOrProject'), async (request) =>
      service.retry(request.params.id),
    );
    app.post<IdParams>('/api/deliveries/:id/cancel', allow('operatorOrProject'), async (request) =>
      service.cancel(request.params.id),
    );
  };
}
