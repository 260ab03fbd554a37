import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import type { AnyStudioEvent, EventSocketServerMessage } from '../../../shared/events';
import type { HttpContext } from '../context';

const authMessage = z.strictObject({ type: z.literal('auth'), token: z.string().min(1) });

function send(socket: WebSocket, message: EventSocketServerMessage): void {
  if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
}

/**
 * The operator's event socket at `/api/events`. Browsers cannot set headers on a WebSocket, so
 * the first message authenticates (`{type:"auth", token}`) instead of a token in the URL.
 */
export function eventSocketRoutes(app: FastifyInstance, ctx: HttpContext): void {
  app.get('/api/events', { websocket: true, config: { access: 'operatorSocket' } }, (socket) => {
    let listener: ((event: AnyStudioEvent) => void) | null = null;
    // Set by the first well-formed auth message: later messages are ignored, even while its token
    // is being checked (each used to add a bus listener of its own, the first ones never removed).
    let authenticating = false;
    const authTimer = setTimeout(() => {
      send(socket, {
        type: 'error',
        code: 'Unauthenticated',
        message: 'send {"type":"auth","token":…} first',
      });
      socket.close(4401, 'unauthenticated');
    }, 5000);

    socket.on('message', (raw) => {
      if (authenticating) return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(String(raw));
      } catch {
        parsed = undefined;
      }
      const message = authMessage.safeParse(parsed);
      if (!message.success) {
        send(socket, {
          type: 'error',
          code: 'InvalidArgument',
          message: 'first message must be {"type":"auth","token":…}',
        });
        return;
      }
      authenticating = true;
      ctx.auth
        .authenticate({ authorization: `Bearer ${message.data.token}`, 'x-opentok-auth': undefined })
        .then(() => {
          clearTimeout(authTimer);
          if (socket.readyState !== socket.OPEN) return;
          listener = (event) => send(socket, { type: 'event', event });
          ctx.bus.on('event', listener);
          send(socket, { type: 'ready' });
        })
        .catch((error: Error) => {
          send(socket, { type: 'error', code: 'PermissionDenied', message: error.message });
          socket.close(4403, 'forbidden');
        });
    });
    socket.on('close', () => {
      clearTimeout(authTimer);
      if (listener !== null) ctx.bus.off('event', listener);
    });
    socket.on('error', () => socket.terminate());
  });
}
