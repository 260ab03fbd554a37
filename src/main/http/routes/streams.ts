import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { notFound } from '../../../shared/errors';
import { parseWith } from '../../../shared/validation';
import type { RoomService } from '../../rooms/RoomService';
import type { Stream } from '../../rooms/Stream';
import type { RouteModule } from '../HttpServer';
import { allow } from '../access';

/** OpenTok's stream JSON (`GET …/session/{sessionId}/stream`). */
export interface OpenTokStreamJson {
  id: string;
  videoType: 'camera' | 'screen' | 'custom';
  /** Streams published to the studio carry no name. */
  name: string;
  layoutClassList: string[];
}

const className = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be a class name of letters, digits, "-" or "_" (at most 64)');
const classListsSchema = z.object({
  items: z
    .array(
      z.object({
        id: z.string().min(1, 'is required').max(64),
        layoutClassList: z.array(className).max(32, 'must list at most 32 classes'),
      }),
    )
    .min(1, 'must list at least one stream')
    .max(100, 'must list at most 100 streams'),
});

function toJson(stream: Stream): OpenTokStreamJson {
  return {
    id: stream.id,
    // OpenTok reports audio-only streams as camera streams.
    videoType: stream.videoType ?? 'camera',
    name: '',
    layoutClassList: [...stream.layoutClassList],
  };
}

/**
 * OpenTok's stream API: list and get the streams of a session, and set their layout classes
 * (which `class:` layout patterns, stylesheet selectors and focus layouts match).
 */
export function streamRoutes(rooms: RoomService): RouteModule {
  return (app: FastifyInstance) => {
    const base = '/v2/project/:apiKey/session/:sessionId/stream';
    type Params = { Params: { sessionId: string } };
    app.get<Params>(base, allow('project'), async (request) => {
      const items = rooms.streamsOf(request.params.sessionId).map(toJson);
      return { count: items.length, items };
    });
    app.get<{ Params: { sessionId: string; streamId: string } }>(
      `${base}/:streamId`,
      allow('project'),
      async (request, reply) => {
        const stream = rooms
          .streamsOf(request.params.sessionId)
          .find((s) => s.id === request.params.streamId);
        if (stream === undefined) {
          throw notFound(
            `stream ${request.params.streamId} is not published in session ${request.params.sessionId}`,
            'streamId',
          );
        }
        // The official SDK (2.23) parses this answer twice when it is typed exactly
        // application/json; a JSON subtype keeps it working and is still JSON to other clients.
        return reply.type('application/vnd.opentok.stream+json').send(JSON.stringify(toJson(stream)));
      },
    );
    app.put<Params>(base, allow('project'), async (request) => {
      // Unknown fields (newer SDKs) are ignored: z.object strips them.
      const body = parseWith(classListsSchema, request.body, 'streams');
      rooms.setLayoutClassLists(request.params.sessionId, body.items);
      return {};
    });
  };
}
