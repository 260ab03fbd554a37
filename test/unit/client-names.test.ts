import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { lenientBody } from '../../src/main/http/routes/opentokBody';
import { StudioError } from '../../src/shared/errors';
import { parseWith } from '../../src/shared/validation';

describe('names a client chose, in errors and logs', () => {
  const huge = 'k'.repeat(900_000);

  it('come back shortened in a validation error, however long', () => {
    assert.throws(
      () => parseWith(z.strictObject({ name: z.string() }), { name: 'x', [huge]: 1 }, 'body'),
      (error: unknown) => {
        assert.ok(error instanceof StudioError);
        assert.ok(error.message.length < 200, `a message of ${error.message.length} characters`);
        assert.match(error.message, /k{64}… \(900000 characters\): is not a known field/);
        assert.ok((error.field ?? '').length < 100);
        return true;
      },
    );
  });

  it('are logged once, shortened, at most twenty, when an OpenTok route ignores them', () => {
    const lines: string[] = [];
    const body: Record<string, unknown> = { name: 'kept', [huge]: 1 };
    for (let i = 0; i < 50_000; i++) body[`extra${i}`] = i;
    const request = {
      body,
      routeOptions: { url: '/v2/project/:apiKey/archive' },
      log: { warn: (fields: object, message: string) => lines.push(JSON.stringify(fields) + message) },
    } as unknown as FastifyRequest;
    assert.deepEqual(lenientBody(request, ['name'], 'archive'), { name: 'kept' });
    assert.equal(lines.length, 1);
    assert.ok(lines[0]!.length < 2000, `a log line of ${lines[0]!.length} characters`);
    assert.match(lines[0]!, /and 49981 more/);
  });
});
