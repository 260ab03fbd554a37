import assert from 'node:assert/strict';
import { promises as dns, type LookupAddress } from 'node:dns';
import { createServer, type Server } from 'node:http';
import { syncBuiltinESMExports } from 'node:module';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { StudioError } from '../../src/shared/errors';
import { guardedFetch, pinnedLookup } from '../../src/main/security/outboundGuard';
import { DeliveryHarness } from '../helpers/servers/deliveryHarness';
import { createWebhookReceiver, type WebhookReceiver } from '../helpers/servers/webhookReceiver';
import { tempDir } from '../helpers/tmp';

/**
 * A rebinding resolver for `localhost`: the first question gets a public address, every later
 * one 127.0.0.1 (the answers a hostile DNS with a zero TTL gives). The public address is only
 * ever handed to the up-front check, never connected to: any later lookup answers loopback.
 * Other names resolve as usual. `syncBuiltinESMExports` makes `import { lookup }` see it too.
 */
function rebindLocalhost(): { questions: () => number } {
  const real = dns.lookup.bind(dns);
  let asked = 0;
  mock.method(dns, 'lookup', (async (host: string, options: unknown) => {
    if (host !== 'localhost') return real(host, options as never);
    asked++;
    const answer: LookupAddress[] =
      asked === 1 ? [{ address: '93.184.215.14', family: 4 }] : [{ address: '127.0.0.1', family: 4 }];
    return (options as { all?: boolean }).all === true ? answer : answer[0];
  }) as typeof dns.lookup);
  syncBuiltinESMExports();
  return { questions: () => asked };
}

describe('DNS rebinding: the address checked is the address connected to', () => {
  let dir: ReturnType<typeof tempDir>;
  let receiver: WebhookReceiver;
  let h: DeliveryHarness | null = null;
  let server: Server | null = null;

  beforeEach(async () => {
    dir = tempDir();
    receiver = await createWebhookReceiver();
  });
  afterEach(async () => {
    mock.restoreAll();
    syncBuiltinESMExports();
    await h?.close();
    h = null;
    server?.close();
    server = null;
    await receiver.close();
    dir.remove();
  });

  it(
    'a webhook whose name answers public to the check and 127.0.0.1 afterwards is refused, never POSTed',
    { timeout: 30_000 },
    async () => {
      h = await DeliveryHarness.start({
        dataDir: dir.path,
        settings: { webhooksAllowPrivateNetwork: false },
      });
      const resolver = rebindLocalhost();
      const hook = h.webhooks.create({ url: `http://localhost:${receiver.port}/rebound` });
      h.bus.publish('studio.started', { version: 'test' });
      const deadline = Date.now() + 15_000;
      let error: string | null = null;
      for (;;) {
        const [attempt] = h.webhooks.deliveries(hook.id);
        if (attempt !== undefined) {
          error = attempt.error;
          break;
        }
        assert.ok(Date.now() < deadline, 'no attempt within 15 s');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(receiver.requests.length, 0, 'the loopback receiver got no POST');
      assert.match(error ?? '', /loopback, link-local or private address \(127\.0\.0\.1\)/);
      assert.ok(resolver.questions() >= 2, 'the name was resolved again at connect time');
    },
  );

  it(
    'remote playback (guardedFetch) refuses the same rebinding name before sending anything',
    { timeout: 30_000 },
    async () => {
      let hits = 0;
      server = createServer((_request, response) => {
        hits++;
        response.writeHead(200, { 'content-type': 'video/mp4' }).end('x');
      });
      await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as { port: number }).port;
      rebindLocalhost();
      await assert.rejects(
        guardedFetch(`http://localhost:${port}/x.mp4`, {}, { timeoutMs: 10_000 }),
        (error: unknown) =>
          error instanceof StudioError &&
          error.code === 'PermissionDenied' &&
          /127\.0\.0\.1/.test(error.message),
      );
      assert.equal(hits, 0, 'the loopback server got no request');
    },
  );

  it(
    'the connect-time lookup refuses metadata and private answers and hands over only checked ones',
    { timeout: 10_000 },
    async () => {
      const answers: Record<string, LookupAddress[]> = {
        'lan.test': [{ address: '10.0.0.7', family: 4 }],
        'meta.test': [{ address: '169.254.169.254', family: 4 }],
        'mixed.test': [
          { address: '2606:4700::1111', family: 6 },
          { address: '1.1.1.1', family: 4 },
        ],
      };
      mock.method(
        dns,
        'lookup',
        (async (host: string) => answers[host] ?? []) as unknown as typeof dns.lookup,
      );
      const ask = (host: string, allowPrivateNetwork: boolean, options: { all?: boolean; family?: number }) =>
        new Promise<{ error: Error | null; result: unknown }>((resolve) =>
          pinnedLookup({ allowPrivateNetwork })(
            host,
            options as never,
            ((error: Error | null, result: unknown) => resolve({ error, result })) as never,
          ),
        );
      assert.match(
        (await ask('lan.test', false, {})).error?.message ?? '',
        /private address \(10\.0\.0\.7\)/,
      );
      assert.equal((await ask('lan.test', true, {})).result, '10.0.0.7');
      assert.match((await ask('meta.test', true, { all: true })).error?.message ?? '', /cloud metadata/);
      assert.deepEqual((await ask('mixed.test', false, { all: true })).result, answers['mixed.test']);
      assert.equal((await ask('mixed.test', false, { family: 4 })).result, '1.1.1.1');
    },
  );
});
