import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { z } from 'zod';
import { installErrorHandling } from '../../src/main/http/errors';
import { errorCodeOfStatus, httpStatusOf, StudioError } from '../../src/shared/errors';
import { parseWith } from '../../src/shared/validation';

describe('error mapping', () => {
  it('maps each error code to its HTTP status', () => {
    assert.equal(httpStatusOf('InvalidArgument'), 400);
    assert.equal(httpStatusOf('Unauthenticated'), 401);
    assert.equal(httpStatusOf('PermissionDenied'), 403);
    assert.equal(httpStatusOf('NotFound'), 404);
    assert.equal(httpStatusOf('Conflict'), 409);
    assert.equal(httpStatusOf('PreconditionFailed'), 412);
    assert.equal(httpStatusOf('PayloadTooLarge'), 413);
    assert.equal(httpStatusOf('Unprocessable'), 422);
    assert.equal(httpStatusOf('Unavailable'), 503);
    assert.equal(httpStatusOf('Internal'), 500);
    assert.equal(errorCodeOfStatus(422), 'Unprocessable');
    assert.equal(errorCodeOfStatus(418), 'InvalidArgument');
    assert.equal(errorCodeOfStatus(502), 'Internal');
  });

  it('names the offending field of a body in the message and in field', () => {
    const schema = z.strictObject({ layout: z.object({ regions: z.array(z.object({ x: z.number() })) }) });
    assert.throws(
      () => parseWith(schema, { layout: { regions: [{ x: 1 }, { x: 'a' }] } }, 'request body'),
      (error: unknown) => {
        assert.ok(error instanceof StudioError);
        assert.equal(error.code, 'InvalidArgument');
        assert.equal(error.field, 'layout.regions[1].x');
        assert.match(error.message, /^request body: layout\.regions\[1\]\.x: /);
        return true;
      },
    );
  });

  it('answers every failure with { code, message, field? } and hides internal details', async () => {
    const app = Fastify();
    installErrorHandling(app);
    app.post('/studio', async () => {
      throw new StudioError('Conflict', 'room is live', 'roomId');
    });
    app.get('/crash', async () => {
      throw new Error('secret internal detail');
    });
    app.post('/json', async (request) => request.body);
    const conflict = await app.inject({ method: 'POST', url: '/studio' });
    assert.equal(conflict.statusCode, 409);
    assert.deepEqual(conflict.json(), { code: 'Conflict', message: 'room is live', field: 'roomId' });
    const crash = await app.inject({ method: 'GET', url: '/crash' });
    assert.equal(crash.statusCode, 500);
    assert.deepEqual(crash.json(), { code: 'Internal', message: 'internal error; see the studio log' });
    const bad = await app.inject({
      method: 'POST',
      url: '/json',
      headers: { 'content-type': 'application/json' },
      payload: '{',
    });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().code, 'InvalidArgument');
    const missing = await app.inject({ method: 'GET', url: '/nope' });
    assert.equal(missing.statusCode, 404);
    assert.deepEqual(missing.json(), { code: 'NotFound', message: 'no route GET /nope' });
    await app.close();
  });

  it('answers Unauthenticated with a WWW-Authenticate challenge', async () => {
    const app = Fastify();
    installErrorHandling(app);
    app.get('/x', async () => {
      throw new StudioError('Unauthenticated', 'credentials required');
    });
    const response = await app.inject({ method: 'GET', url: '/x' });
    assert.equal(response.statusCode, 401);
    assert.match(String(response.headers['www-authenticate']), /Bearer/);
    await app.close();
  });
});
