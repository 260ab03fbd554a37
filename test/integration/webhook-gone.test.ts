import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { DeliveryHarness } from '../helpers/servers/deliveryHarness';
import { createWebhookReceiver, type WebhookReceiver } from '../helpers/servers/webhookReceiver';
import { tempDir } from '../helpers/tmp';

describe('webhooks: 410 Gone disables the registration (Standard Webhooks)', () => {
  let dir: ReturnType<typeof tempDir>;
  let receiver: WebhookReceiver;
  let h: DeliveryHarness;

  beforeEach(async () => {
    dir = tempDir();
    receiver = await createWebhookReceiver();
    h = await DeliveryHarness.start({ dataDir: dir.path });
  });
  afterEach(async () => {
    await h.close();
    await receiver.close();
    dir.remove();
  });

  it(
    'stops sending at the first 410, keeps the messages, and sends them once enabled again',
    { timeout: 30_000 },
    async () => {
      receiver.failWith = 410;
      const hook = h.webhooks.create({ url: receiver.url('/gone'), events: ['studio.started'] });
      const disabled = h.nextEvent((e) => e.type === 'webhook.disabled', 10_000);
      for (const version of ['a', 'b', 'c']) h.bus.publish('studio.started', { version });
      const event = await disabled;
      assert.deepEqual(
        { ...event.data, pending: undefined },
        {
          webhookId: hook.id,
          kind: 'studio',
          reason: 'the receiver answered 410 Gone',
          statusCode: 410,
          pending: undefined,
        },
      );
      assert.ok(
        h.logLines.some((line) => line.includes('webhook disabled: the receiver answered 410 Gone')),
        'the log says why',
      );
      // Messages already in flight when the first 410 came back may still arrive (they go out in
      // parallel); after them, nothing.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const sent = receiver.requests.length;
      // Retries would come within a second (test backoff cap): none does.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.equal(receiver.requests.length, sent, 'nothing sent after the 410');
      assert.ok(sent >= 1 && sent <= 3, `${sent} requests`);
      const listed = h.webhooks.get(hook.id);
      assert.equal(listed.enabled, false);
      assert.equal(listed.pending, 3, 'the messages are kept');

      receiver.failWith = null;
      h.webhooks.update(hook.id, { enabled: true });
      const accepted = await receiver.waitFor((r) => r.length >= 3, 10_000);
      assert.deepEqual(
        accepted.map((r) => (JSON.parse(r.body) as { data: { version: string } }).data.version).sort(),
        ['a', 'b', 'c'],
      );
      // The last answer is recorded just after the receiver logged it.
      const until = Date.now() + 5000;
      while (h.webhooks.get(hook.id).pending > 0 && Date.now() < until)
        await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(h.webhooks.get(hook.id).pending, 0);
    },
  );
});
