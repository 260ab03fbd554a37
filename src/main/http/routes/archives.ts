import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseWith } from '../../../shared/validation';
import type { RecordingService } from '../../recording/RecordingService';
import type { RoomService } from '../../rooms/RoomService';
import type { HttpContext } from '../context';
import type { RouteModule } from '../HttpServer';
import { allow } from '../access';

const createSessionSchema = z
  .object({
    archiveMode: z.enum(['manual', 'always']).optional(),
    'p2p.preference': z.enum(['enabled', 'disabled']).optional(),
    location: z.string().optional(),
    archiveName: z.string().max(200).optional(),
    archiveResolution: z
      .string()
      .regex(/^\d{2,4}x\d{2,4}$/)
      .optional(),
    e2ee: z.string().optional(),
  })
  .passthrough();

/** The OpenTok-compatible archive API under /v2/project/{apiKey}/, and `POST /session/create`. */
export function archiveRoutes(recording: RecordingService, rooms: RoomService): RouteModule {
  return (app: FastifyInstance, ctx: HttpContext) => {
    const base = '/v2/project/:apiKey/archive';
    app.post(base, allow('project'), async (request) => recording.start(request.body));
    app.get<{ Querystring: Record<string, string> }>(base, allow('project'), async (request) =>
      recording.list(request.query),
    );
    app.get<{ Params: { id: string } }>(`${base}/:id`, allow('project'), async (request) =>
      recording.get(request.params.id),
    );
    app.post<{ Params: { id: string } }>(`${base}/:id/stop`, allow('project'), async (request) =>
      recording.stop(request.params.id),
    );
    app.delete<{ Params: { id: string } }>(`${base}/:id`, allow('project'), async (request, reply) => {
      recording.delete(request.params.id);
      return reply.status(204).send();
    });
    app.patch<{ Params: { id: string } }>(`${base}/:id/streams`, allow('project'), async (request, reply) => {
      recording.patchStreams(request.params.id, request.body);
      return reply.status(204).send();
    });
    app.put<{ Params: { id: string } }>(`${base}/:id/layout`, allow('project'), async (request, reply) => {
      // The stored offset: where the composed file switches layout (OpenTok clients ignore it).
      return reply.status(200).send(recording.setLayout(request.params.id, request.body));
    });

    // OpenTok's session/create (form-encoded, as the server SDKs send it): a session is a room.
    // The OpenTok server SDKs send this form-encoded.
    app.post(
      '/session/create',
      allow('project', { bodyTypes: ['application/x-www-form-urlencoded'] }),
      async (request, reply) => {
        const form = parseWith(createSessionSchema, request.body ?? {}, 'session');
        const room = rooms.createForSession({
          ...(form.archiveMode !== undefined ? { archiveMode: form.archiveMode } : {}),
          ...(form.archiveName !== undefined ? { archiveName: form.archiveName } : {}),
          ...(form.archiveResolution !== undefined ? { archiveResolution: form.archiveResolution } : {}),
        });
        const apiKey = ctx.config.settings.apiKey;
        return reply.type('application/json').send([
          {
            session_id: room.id,
            project_id: apiKey,
            partner_id: apiKey,
            create_dt: new Date(room.createdAt).toUTCString(),
            media_server_url: '',
          },
        ]);
      },
    );
  };
}
