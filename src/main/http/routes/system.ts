import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { LoginResponse } from '../../../shared/api';
import { parseWith } from '../../../shared/validation';
import type { HttpContext } from '../context';

const loginBody = z.strictObject({ password: z.string().min(1, 'is required').max(1024, 'is too long') });

/** Health, operator login and studio info. */
export function systemRoutes(app: FastifyInstance, ctx: HttpContext): void {
  app.get('/health', async () => ctx.health());

  app.post('/api/auth/login', { config: { public: true } }, async (request): Promise<LoginResponse> => {
    const body = parseWith(loginBody, request.body, 'login');
    try {
      return await ctx.auth.login(body.password);
    } catch (error) {
      // Slow down password guessing.
      await new Promise((resolve) => setTimeout(resolve, 250));
      throw error;
    }
  });

  app.get('/api/studio', async () => ctx.info());
}
