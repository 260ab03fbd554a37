import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { DeliveryHarness } from '../helpers/servers/deliveryHarness';
import { createWebhookReceiver, type WebhookReceiver } from '../helpers/servers/webhookReceiver';
import { tempDir } from '../helpers/tmp';

describe('allowPrivateNetwork per webhook', () => {
  let dir: ReturnType<typeof tempDir>;
  let receiver: WebhookReceiver;
  let h: DeliveryHarness | null = null;

  beforeEach(async () => {
    dir = tempDir();
    receiver = await createWebhookReceiver();
  });
  afterEach(async () => {
    await h?.close();
    await receiver.close();
    dir.remove();
  });

  /** Waits until a webhook's log has an attempt; returns its error. */
  const firstAttemptError = async (harness: DeliveryHarness, id: string): Promise<string | null> => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const [attempt] = harness.webhooks.deliveries(id);
      if (attempt !== undefined) return attempt.error;
      assert.ok(Date.now() < deadline, `no attempt for webhook ${id} within 15 s`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  it('a webhook with the flag reaches a loopback receiver; one without follows the studio-wide refusal', async () => {
    h = await DeliveryHarness.start({ dataDir: dir.path, settings: { webhooksAllowPrivateNetwork: false } });
    const allowed = h.webhooks.create({ url: receiver.url('/allowed'), allowPrivateNetwork: true });
    const byDefault = h.webhooks.create({ url: receiver.url('/default') });
    assert.equal(allowed.allowPrivateNetwork, true);
    assert.equal(byDefault.allowPrivateNetwork, null);
    h.bus.publish('studio.started', { version: 'test' });
    await receiver.waitFor((accepted) => accepted.some((r) => r.path === '/allowed'), 15_000);
    assert.equal(await firstAttemptError(h, allowed.id), null);
    assert.match((await firstAttemptError(h, byDefault.id)) ?? '', /private|loopback|allowPrivateNetwork/i);
    assert.ok(!receiver.requests.some((r) => r.path === '/default'), 'the refused webhook never connected');
  });

  it('a webhook set to false is refused even when the studio-wide setting allows private receivers, and null follows it again', async () => {
    h = await DeliveryHarness.start({ dataDir: dir.path, settings: { webhooksAllowPrivateNetwork: true } });
    const hook = h.webhooks.create({ url: receiver.url('/hook'), allowPrivateNetwork: false });
    h.bus.publish('studio.started', { version: 'test' });
    assert.match((await firstAttemptError(h, hook.id)) ?? '', /private|loopback|allowPrivateNetwork/i);
    assert.equal(receiver.requests.length, 0);

    assert.equal(h.webhooks.update(hook.id, { allowPrivateNetwork: null }).allowPrivateNetwork, null);
    h.bus.publish('studio.started', { version: 'again' });
    await receiver.waitFor((accepted) => accepted.length >= 1, 15_000);
  });

  it('refuses a flag that is not a boolean, naming the field', async () => {
    const harness = await DeliveryHarness.start({ dataDir: dir.path });
    h = harness;
    assert.throws(
      () => harness.webhooks.create({ url: receiver.url('/x'), allowPrivateNetwork: 'yes' }),
      (error: Error & { field?: string }) => /allowPrivateNetwork/.test(`${error.field} ${error.message}`),
    );
  });
});
