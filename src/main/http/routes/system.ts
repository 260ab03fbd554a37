import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { LoginResponse } from '../../../shared/api';
import { StudioError } from '../../../shared/errors';
import { parseWith } from '../../../shared/validation';
import type { HttpContext } from '../context';
import { RateLimitedError } from '../../security/LoginThrottle';
import { allow } from '../access';

const loginBody = z.strictObject({ password: z.string().min(1, 'is required').max(1024, 'is too long') });

/** Health, operator login and studio info. */
export function systemRoutes(app: FastifyInstance, ctx: HttpContext): void {
  app.get('/health', allow('public'), async () => ctx.health());

  app.post('/api/auth/login', allow('public'), async (request): Promise<LoginResponse> => {
    const body = parseWith(loginBody, request.body, 'login');
    try {
      return await ctx.auth.login(body.password, request.ip);
    } catch (error) {
      // Slow down password guessing (the throttle then refuses the client for a while).
      if (!(error instanceof RateLimitedError)) await new Promise((resolve) => setTimeout(resolve, 250));
      throw error;
    }
  });

  app.get('/api/studio', allow('operatorOrProject'), async () => ctx.info());

  app.get('/api/studio/threads', allow('operatorOrProject'), async () => {
    if (ctx.threads === undefined)
      throw new StudioError('Unavailable', 'thread statistics are not available');
    return { items: await ctx.threads() };
  });
}
