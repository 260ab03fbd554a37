import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { archiveResolutionSchema, startArchiveSchema } from '../../../shared/archiveApi';
import { StudioError } from '../../../shared/errors';
import { parseWith } from '../../../shared/validation';
import type { RecordingService } from '../../recording/RecordingService';
import type { RoomService } from '../../rooms/RoomService';
import type { HttpContext } from '../context';
import type { RouteModule } from '../HttpServer';
import { allow } from '../access';
import { lenientBody } from './opentokBody';

const createSessionSchema = z
  .object({
    archiveMode: z.enum(['manual', 'always']).optional(),
    'p2p.preference': z.enum(['enabled', 'disabled']).optional(),
    location: z.string().optional(),
    archiveName: z.string().max(200).optional(),
    // Checked here, as the room's would be, so a bad one is named as the caller sent it.
    archiveResolution: archiveResolutionSchema.optional(),
    e2ee: z.string().optional(),
  })
  .passthrough();

const START_FIELDS = Object.keys(startArchiveSchema.shape);
const STREAM_FIELDS = ['addStream', 'removeStream', 'hasAudio', 'hasVideo'];

/** The 2013 form's `action`, case-sensitive as its reference says. */
function requireAction(body: unknown, action: 'start' | 'stop'): void {
  const given =
    body !== null && typeof body === 'object' ? (body as Record<string, unknown>).action : undefined;
  if (given !== action) {
    throw new StudioError(
      'InvalidArgument',
      given === undefined
        ? `action is required; set it to "${action}"`
        : typeof given === 'string'
          ? `action "${given.length > 40 ? `${given.slice(0, 40)}…` : given}" is not valid here; set it to "${action}" (case-sensitive)`
          : // Not text: named by its type (String() of a deeply nested array overflows the stack).
            `action must be the text "${action}", not ${given === null ? 'null' : Array.isArray(given) ? 'a list' : typeof given}`,
      'action',
    );
  }
}

/** Runs a handler, answering an unknown archive with the 2013 API's status instead of 404. */
async function asLegacy<T>(
  onNotFound: 'InvalidArgument' | 'PermissionDenied',
  run: () => Promise<T> | T,
): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof StudioError && error.code === 'NotFound' && error.field === 'archiveId') {
      throw new StudioError(onNotFound, error.message, error.field);
    }
    throw error;
  }
}

/**
 * The OpenTok-compatible archive API under /v2/project/{apiKey}/, the 2013 archiving REST API
 * under /v2/partner/{apiKey}/, and `POST /session/create`.
 */
export function archiveRoutes(recording: RecordingService, rooms: RoomService): RouteModule {
  return (app: FastifyInstance, ctx: HttpContext) => {
    const base = '/v2/project/:apiKey/archive';
    app.post(base, allow('project'), async (request) =>
      recording.start(lenientBody(request, START_FIELDS, 'archive')),
    );
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
      recording.patchStreams(request.params.id, lenientBody(request, STREAM_FIELDS, 'streams'));
      return reply.status(204).send();
    });
    app.put<{ Params: { id: string } }>(`${base}/:id/layout`, allow('project'), async (request, reply) => {
      // The stored offset: where the composed file switches layout (OpenTok clients ignore it).
      return reply.status(200).send(recording.setLayout(request.params.id, request.body));
    });

    // The 2013 archiving REST API (X-TB-PARTNER-AUTH): start and stop are POSTs with an
    // `action`; an unknown id is 400 on GET and 403 on DELETE, as its reference says.
    const legacy = '/v2/partner/:apiKey/archive';
    app.post(legacy, allow('project'), async (request) => {
      requireAction(request.body, 'start');
      const { action: _action, ...body } = lenientBody(
        request,
        [...START_FIELDS, 'action'],
        'archive',
      ) as Record<string, unknown>;
      return recording.start(body);
    });
    app.post<{ Params: { id: string } }>(`${legacy}/:id`, allow('project'), async (request) => {
      requireAction(request.body, 'stop');
      return recording.stop(request.params.id);
    });
    app.get<{ Querystring: Record<string, string> }>(legacy, allow('project'), async (request) =>
      recording.list(request.query),
    );
    app.get<{ Params: { id: string } }>(`${legacy}/:id`, allow('project'), async (request) =>
      asLegacy('InvalidArgument', () => recording.get(request.params.id)),
    );
    app.delete<{ Params: { id: string } }>(`${legacy}/:id`, allow('project'), async (request, reply) => {
      await asLegacy('PermissionDenied', () => recording.delete(request.params.id));
      return reply.status(204).send();
    });

    // OpenTok's session/create (form-encoded, as the server SDKs send it): a session is a room.
    // The OpenTok server SDKs send this form-encoded.
    app.post(
      '/session/create',
      allow('project', { bodyTypes: ['application/json', 'application/x-www-form-urlencoded'] }),
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
