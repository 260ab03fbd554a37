import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import type { CompositionService } from '../../src/main/composition/CompositionService';
import { compositionRoutes } from '../../src/main/http/routes/compositions';
import { json } from '../helpers/api';
import { DeliveryHarness } from '../helpers/servers/deliveryHarness';
import {
  createWebhookReceiver,
  type ReceivedRequest,
  type WebhookReceiver,
} from '../helpers/servers/webhookReceiver';
import { tempDir } from '../helpers/tmp';

/** Just the hook part of the composition service: the routes under test only pass bodies on. */
function hookStub(): CompositionService {
  const hook = (id: string) => ({ id, friendlyName: 'every archive' });
  return {
    createHook: () => hook('hook-1'),
    getHook: (id: string) => hook(id),
    updateHook: (id: string) => hook(id),
    listHooks: () => ({ count: 1, items: [hook('hook-1')] }),
    deleteHook: () => {},
  } as unknown as CompositionService;
}

const verify = (secret: string, request: ReceivedRequest) =>
  new Webhook(secret).verify(request.body, {
    'webhook-id': String(request.headers['webhook-id']),
    'webhook-timestamp': String(request.headers['webhook-timestamp']),
    'webhook-signature': String(request.headers['webhook-signature']),
  }) as { type: string; data: { compositionId: string } };

describe('PATCH /api/composition-hooks/{id} statusCallback', () => {
  let dir: ReturnType<typeof tempDir>;
  let receiver: WebhookReceiver;
  let h: DeliveryHarness;
  let api: <T>(method: string, path: string, body?: unknown) => Promise<{ status: number; body: T }>;

  beforeEach(async () => {
    dir = tempDir();
    // Down: messages wait in the outbox.
    receiver = await createWebhookReceiver({ listen: false });
    h = await DeliveryHarness.start({
      dataDir: dir.path,
      http: true,
      routes: (harness) => [compositionRoutes(hookStub(), harness.webhooks)],
    });
    const token = await h.token();
    api = (method, path, body) =>
      json(`${h.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}` },
        ...(body !== undefined ? { body } : {}),
      });
  });
  afterEach(async () => {
    await h.close();
    await receiver.close();
    dir.remove();
  });

  const compositionEvent = (compositionId: string) =>
    h.bus.publish('composition.enqueued', { compositionId, archiveId: 'a-1', hookId: 'hook-1' });
  const pendingOf = () => h.webhooks.repo.list('callback').map((r) => h.webhooks.repo.pendingCount(r.id));

  it(
    'the same URL keeps the secret and the waiting messages; a new URL takes them over',
    { timeout: 30_000 },
    async () => {
      const created = await api<{ statusCallbackSecret: string }>('POST', '/api/composition-hooks', {
        friendlyName: 'every archive',
        statusCallback: receiver.url('/first'),
      });
      assert.equal(created.status, 201);
      const secret = created.body.statusCallbackSecret;
      assert.match(secret, /^whsec_/);
      compositionEvent('c-1');
      compositionEvent('c-2');
      assert.deepEqual(pendingOf(), [2]);

      const same = await api<{ statusCallback: string; statusCallbackSecret?: string }>(
        'PATCH',
        '/api/composition-hooks/hook-1',
        { statusCallback: receiver.url('/first') },
      );
      assert.equal(same.status, 200);
      assert.equal(same.body.statusCallback, receiver.url('/first'));
      assert.equal(
        same.body.statusCallbackSecret,
        undefined,
        'no new secret: the one shown at creation stays',
      );
      assert.deepEqual(pendingOf(), [2], 'the waiting messages are kept');
      compositionEvent('c-3');

      await receiver.listen();
      const first = await receiver.waitFor((r) => r.length >= 3, 15_000);
      assert.deepEqual(
        first.map((r) => verify(secret, r).data.compositionId).sort(),
        ['c-1', 'c-2', 'c-3'],
        'all three, signed with the original secret',
      );

      // A new URL: a new secret, and what waited for the old one goes to the new one.
      await receiver.stop();
      compositionEvent('c-4');
      const moved = await api<{ statusCallbackSecret: string }>('PATCH', '/api/composition-hooks/hook-1', {
        statusCallback: receiver.url('/moved'),
      });
      assert.match(moved.body.statusCallbackSecret, /^whsec_/);
      assert.notEqual(moved.body.statusCallbackSecret, secret);
      compositionEvent('c-5');
      assert.deepEqual(pendingOf(), [2], 'one registration, both messages');
      await receiver.listen();
      const all = await receiver.waitFor((r) => r.filter((x) => x.path === '/moved').length >= 2, 15_000);
      assert.deepEqual(
        all
          .filter((r) => r.path === '/moved')
          .map((r) => verify(moved.body.statusCallbackSecret, r).data.compositionId)
          .sort(),
        ['c-4', 'c-5'],
      );
    },
  );
});
