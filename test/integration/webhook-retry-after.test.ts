import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { retryAfterMs } from '../../src/main/util/backoff';
import { DeliveryHarness } from '../helpers/servers/deliveryHarness';
import { tempDir } from '../helpers/tmp';

/** A receiver that answers each request with the next of `answers` (then 204), logging when. */
async function scriptedReceiver(answers: Array<{ status: number; retryAfter?: () => string }>) {
  const arrivals: number[] = [];
  const server: Server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      arrivals.push(Date.now());
      const answer = answers.shift() ?? { status: 204 };
      response
        .writeHead(
          answer.status,
          answer.retryAfter !== undefined ? { 'retry-after': answer.retryAfter() } : {},
        )
        .end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, arrivals, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook` };
}

describe('webhooks: Retry-After', () => {
  let dir: ReturnType<typeof tempDir>;
  let h: DeliveryHarness | null = null;
  let server: Server | null = null;

  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(async () => {
    await h?.close();
    h = null;
    server?.close();
    dir.remove();
  });

  it('reads delta-seconds and HTTP-dates, and nothing else', { timeout: 5000 }, () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(retryAfterMs('120', now), 120_000);
    assert.equal(retryAfterMs(' 3 ', now), 3000);
    assert.equal(retryAfterMs('Thu, 01 Jan 2026 00:00:30 GMT', now), 30_000);
    assert.equal(retryAfterMs('Wed, 31 Dec 2025 23:00:00 GMT', now), 0);
    for (const value of [undefined, '', '-5', '1.5', 'soon', '1e3', '2026-01-01'])
      assert.equal(retryAfterMs(value, now), null, value);
  });

  it(
    'a 503 or 429 with Retry-After (seconds or date) delays the next attempt that long, up to the backoff cap',
    { timeout: 30_000 },
    async () => {
      const receiver = await scriptedReceiver([
        { status: 503, retryAfter: () => '2' },
        { status: 429, retryAfter: () => new Date(Date.now() + 3000).toUTCString() },
        // Longer than the cap (4 s): waits the cap.
        { status: 503, retryAfter: () => '3600' },
      ]);
      server = receiver.server;
      // Backoff alone: ~100 ms (base 0); the cap 4 s.
      h = await DeliveryHarness.start({ dataDir: dir.path, settings: { webhookBackoffMaxSec: 4 } });
      const hook = h.webhooks.create({ url: receiver.url, events: ['studio.started'] });
      h.bus.publish('studio.started', { version: 'test' });
      const deadline = Date.now() + 25_000;
      while (receiver.arrivals.length < 4) {
        assert.ok(Date.now() < deadline, `${receiver.arrivals.length} arrivals`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const gaps = receiver.arrivals.slice(1).map((at, i) => at - receiver.arrivals[i]!);
      assert.ok(gaps[0]! >= 1950, `after "Retry-After: 2": ${gaps[0]} ms`);
      // An HTTP-date has whole seconds: at least 2 s of the 3 remain.
      assert.ok(gaps[1]! >= 1950, `after a Retry-After date 3 s ahead: ${gaps[1]} ms`);
      assert.ok(
        gaps[2]! >= 3950 && gaps[2]! < 6000,
        `after "Retry-After: 3600" with a 4 s cap: ${gaps[2]} ms`,
      );
      const until = Date.now() + 5000;
      while (h.webhooks.get(hook.id).pending > 0 && Date.now() < until)
        await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(h.webhooks.get(hook.id).pending, 0);
    },
  );
});
