import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { StudioError } from '../../../shared/errors';
import type { ServerMessage } from '../../../shared/signaling';
import type { RoomService } from '../../rooms/RoomService';
import { icePwd, iceUfrag } from '../../rooms/sdp';
import { SignalingSession } from '../../rooms/SignalingSession';
import type { HttpContext } from '../context';
import type { RouteModule } from '../HttpServer';
import { allow } from '../access';
import { whipCors } from '../cors';

/** Bytes queued to a signaling client before it counts as not reading and is dropped. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

/** What the signaling socket refused (counted for the logs and the security tests). */
export const signalingSocketCounters = { oversized: 0, slowConsumers: 0 };

/** A WHIP session's entity tag (RFC 9725 §4.3.1): the resource id, quoted. */
const etagOf = (resourceId: string) => `"${resourceId}"`;

/**
 * Whether an `If-Match` header lets a PATCH of the session with this entity tag through
 * (RFC 9110 §13.1.1: `*` or a strong match of one listed tag; RFC 9725 §4.3.1: otherwise 412).
 * No header (or an empty one) passes: clients that send none are not refused (428 would be).
 */
export function ifMatchPasses(header: string | undefined, etag: string): boolean {
  if (header === undefined || header.trim() === '') return true;
  return header.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t === etag;
  });
}

function bearer(header: string | undefined): string {
  const match = /^Bearer\s+(\S+)$/i.exec(header?.trim() ?? '');
  if (match === null) {
    throw new StudioError(
      'Unauthenticated',
      'WHIP needs "Authorization: Bearer <join token>" (a publisher token of the room)',
    );
  }
  return match[1]!;
}

/** Rooms REST API, join tokens, the signaling socket, the guest join page and WHIP ingest. */
export function roomRoutes(rooms: RoomService): RouteModule {
  return (app: FastifyInstance, ctx: HttpContext) => {
    app.post('/api/rooms', allow('operatorOrProject'), async (request, reply) =>
      reply.status(201).send(rooms.create(request.body)),
    );
    app.get('/api/rooms', allow('operatorOrProject'), async () => ({ items: rooms.list() }));
    app.get<{ Params: { id: string } }>('/api/rooms/:id', allow('operatorOrProject'), async (request) =>
      rooms.get(request.params.id),
    );
    app.patch<{ Params: { id: string } }>('/api/rooms/:id', allow('operatorOrProject'), async (request) =>
      rooms.update(request.params.id, request.body),
    );
    app.delete<{ Params: { id: string } }>(
      '/api/rooms/:id',
      allow('operatorOrProject'),
      async (request, reply) => {
        rooms.delete(request.params.id);
        return reply.status(204).send();
      },
    );
    app.post<{ Params: { id: string } }>(
      '/api/rooms/:id/tokens',
      allow('operatorOrProject'),
      async (request, reply) =>
        reply.status(201).send(await rooms.createToken(request.params.id, request.body)),
    );

    // Signaling: the first message is {"type":"join","token":…}; see docs/signaling.md.
    app.get('/signaling', { websocket: true, config: { access: 'guest' } }, (socket) => {
      const logger = ctx.logger.child({ part: 'signaling' });
      const send = (message: ServerMessage) => {
        if (socket.readyState !== socket.OPEN) return;
        // A client that does not read its socket must not make the studio buffer without end.
        if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
          signalingSocketCounters.slowConsumers++;
          logger.warn('signaling client does not read its messages: connection closed');
          socket.terminate();
          return;
        }
        socket.send(JSON.stringify(message));
      };
      const session = new SignalingSession(
        rooms,
        send,
        (reason) => socket.close(1000, reason.slice(0, 100)),
        logger,
      );
      // A client that stops answering pings is gone (network lost); the heartbeat drops it.
      let alive = true;
      const ping = setInterval(() => {
        if (!alive) {
          socket.terminate();
          return;
        }
        alive = false;
        socket.ping();
      }, 5000);
      socket.on('pong', () => (alive = true));
      socket.on('message', (raw, isBinary) => {
        alive = true;
        if (isBinary) {
          send({ type: 'error', code: 'InvalidArgument', message: 'signaling messages are JSON text' });
          return;
        }
        session.receive(String(raw));
      });
      socket.on('close', () => {
        clearInterval(ping);
        session.close('signaling closed');
      });
      socket.on('error', (error: Error & { code?: string }) => {
        // A message over the size limit: the ws library closes with 1009; counted here.
        if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
          signalingSocketCounters.oversized++;
          logger.warn('signaling message over 1 MB: connection closed (1009)');
        }
        socket.terminate();
      });
    });

    // The guest join page, served by the core (built by electron-vite into the renderer folder).
    // The build addresses assets relatively ("./assets/…"); a base element makes them resolve
    // from the root under /join/<room>.
    let joinPage: string | null = null;
    app.get<{ Params: { roomId: string } }>('/join/:roomId', allow('public'), async (_request, reply) => {
      if (joinPage === null) {
        const file = ctx.rendererDir === null ? null : join(ctx.rendererDir, 'join.html');
        if (file === null || !existsSync(file))
          throw new StudioError('Unavailable', 'the join page is not built; run npm run build');
        joinPage = readFileSync(file, 'utf8').replace('<head>', '<head>\n    <base href="/" />');
      }
      return reply.header('Cache-Control', 'no-store').type('text/html; charset=utf-8').send(joinPage);
    });

    // WHIP (RFC 9725).
    app.addContentTypeParser(
      ['application/sdp', 'application/trickle-ice-sdpfrag'],
      { parseAs: 'string', bodyLimit: 256 * 1024 },
      (_req, body, done) => done(null, body),
    );
    // The content type is checked before the body is parsed, so a JSON body gets 415, not 400.
    const requireType = (expected: string) => async (request: FastifyRequest, reply: FastifyReply) => {
      whipCors(reply);
      const type = String(request.headers['content-type'] ?? '')
        .split(';')[0]!
        .trim()
        .toLowerCase();
      if (type !== expected) {
        return reply.status(415).send({
          code: 'InvalidArgument',
          message: `WHIP ${request.method} bodies must be Content-Type: ${expected}`,
        });
      }
    };
    app.options('/whip/:roomId', allow('guest', { anyOrigin: true }), async (_request, reply) => {
      whipCors(reply);
      return reply.header('Accept-Post', 'application/sdp').status(204).send();
    });
    app.options('/whip/:roomId/:resourceId', allow('guest', { anyOrigin: true }), async (_request, reply) => {
      whipCors(reply);
      return reply.header('Accept-Patch', 'application/trickle-ice-sdpfrag').status(204).send();
    });
    app.post<{ Params: { roomId: string }; Body: unknown }>(
      '/whip/:roomId',
      {
        ...allow('guest', { anyOrigin: true, bodyTypes: ['application/sdp'] }),
        onRequest: requireType('application/sdp'),
      },
      async (request, reply) => {
        whipCors(reply);
        const token = bearer(request.headers.authorization);
        const { resourceId, answer } = await rooms.whipPublish(
          request.params.roomId,
          token,
          String(request.body ?? ''),
        );
        const location = `/whip/${encodeURIComponent(request.params.roomId)}/${resourceId}`;
        return reply
          .status(201)
          .header('Content-Type', 'application/sdp')
          .header('Location', location)
          .header('ETag', etagOf(resourceId))
          .header('Accept-Patch', 'application/trickle-ice-sdpfrag')
          .send(answer);
      },
    );
    app.patch<{ Params: { roomId: string; resourceId: string }; Body: unknown }>(
      '/whip/:roomId/:resourceId',
      {
        ...allow('guest', { anyOrigin: true, bodyTypes: ['application/trickle-ice-sdpfrag'] }),
        onRequest: requireType('application/trickle-ice-sdpfrag'),
      },
      async (request, reply) => {
        whipCors(reply);
        const token = bearer(request.headers.authorization);
        const resource = await rooms.whipAuthorize(request.params.roomId, request.params.resourceId, token);
        const etag = etagOf(request.params.resourceId);
        const ifMatch = request.headers['if-match'];
        if (!ifMatchPasses(ifMatch, etag)) {
          throw new StudioError(
            'PreconditionFailed',
            `If-Match ${ifMatch} does not match this WHIP session's ETag ${etag}`,
            'If-Match',
          );
        }
        const fragment = String(request.body ?? '');
        const ufrag = iceUfrag(fragment);
        const pwd = icePwd(fragment);
        const changed =
          (ufrag !== null && resource.remoteUfrag !== null && ufrag !== resource.remoteUfrag) ||
          (pwd !== null && resource.remotePwd !== null && pwd !== resource.remotePwd);
        if (changed) {
          // An ICE restart (new credentials, RFC 8445 §9: either part) is not supported, so the
          // client must start a new session (RFC 9725 §4.3.2).
          throw new StudioError(
            'Unprocessable',
            'ICE restarts are not supported (the fragment has new ICE credentials); start a new WHIP session',
            'sdp',
          );
        }
        await rooms.whipPatch(request.params.roomId, request.params.resourceId, fragment);
        return reply.status(204).send();
      },
    );
    app.delete<{ Params: { roomId: string; resourceId: string } }>(
      '/whip/:roomId/:resourceId',
      allow('guest', { anyOrigin: true }),
      async (request, reply) => {
        whipCors(reply);
        const token = bearer(request.headers.authorization);
        await rooms.whipAuthorize(request.params.roomId, request.params.resourceId, token);
        rooms.whipDelete(request.params.roomId, request.params.resourceId);
        return reply.status(200).send();
      },
    );
  };
}
