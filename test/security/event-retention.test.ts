import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { EventRetention } from '../../src/main/events/EventRetention';
import { EventRepository } from '../../src/main/store/EventRepository';
import { DeliveryHarness } from '../helpers/servers/deliveryHarness';
import { createWebhookReceiver, type WebhookReceiver } from '../helpers/servers/webhookReceiver';
import { tempDir } from '../helpers/tmp';

const DAY_MS = 86_400_000;

describe('events table retention (the outbox of webhooks and deliveries)', () => {
  let dir: ReturnType<typeof tempDir>;
  let receiver: WebhookReceiver;
  let h: DeliveryHarness | null = null;
  let retention: EventRetention | null = null;

  beforeEach(async () => {
    dir = tempDir();
    receiver = await createWebhookReceiver();
  });
  afterEach(async () => {
    retention?.close();
    await h?.close();
    await receiver.close();
    dir.remove();
  });

  const seqs = (harness: DeliveryHarness) =>
    (harness.store.db.prepare('SELECT seq FROM events ORDER BY seq').all() as Array<{ seq: number }>).map(
      (r) => r.seq,
    );
  const publish = (harness: DeliveryHarness, n: number) => {
    for (let i = 0; i < n; i++) harness.bus.publish('studio.started', { version: `v${i}` });
  };

  it('keeps the events of webhook messages still pending, and prunes them once delivered', async () => {
    h = await DeliveryHarness.start({ dataDir: dir.path, settings: { eventRetentionSec: 3600 } });
    retention = new EventRetention({
      events: new EventRepository(h.store.db),
      logger: h.logger,
      settings: h.settings,
    });
    publish(h, 5);
    receiver.failWith = 503;
    h.webhooks.create({ url: receiver.url('/hook') });
    publish(h, 5);
    await receiver.waitFor(() => receiver.requests.length >= 1, 10_000).catch(() => {});

    // 40 days later: the 5 events from before the registration go; the 5 still owed stay.
    assert.equal(await retention.sweep(Date.now() + 40 * DAY_MS), 5);
    const kept = seqs(h);
    assert.equal(kept.length, 5);

    receiver.failWith = null;
    await receiver.waitFor((accepted) => accepted.length >= 5, 15_000);
    const id = h.webhooks.list()[0]!.id;
    const deadline = Date.now() + 10_000;
    while (h.webhooks.repo.pendingCount(id) > 0) {
      assert.ok(Date.now() < deadline, 'webhook messages still pending after 10 s');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // Not yet old: kept. Old: pruned.
    assert.equal(await retention.sweep(), 0);
    assert.equal(await retention.sweep(Date.now() + 40 * DAY_MS), 5);
    assert.deepEqual(seqs(h), []);
  });

  it('keeps every event the delivery queue has not read, then bounds the table by age and by count', async () => {
    h = await DeliveryHarness.start({
      dataDir: dir.path,
      settings: { eventRetentionSec: 3600, eventRetentionMaxRows: 1000 },
      start: false,
    });
    retention = new EventRetention({
      events: new EventRepository(h.store.db),
      logger: h.logger,
      settings: h.settings,
    });
    publish(h, 1200);
    // The delivery cursor is held back (the queue is not running): nothing goes, however old.
    assert.equal(await retention.sweep(Date.now() + 400 * DAY_MS), 0);
    assert.equal(seqs(h).length, 1200);

    h.startServices(); // catches up: the cursor moves past every event
    // By count: the newest 1000 stay.
    assert.equal(await retention.sweep(), 200);
    const kept = seqs(h);
    assert.equal(kept.length, 1000);
    assert.equal(kept[0], 201);
    // By age: everything handled and older than the bound goes.
    // One statement removes at most a batch; the sweep goes on until done.
    const later = Date.now() + 2 * 3_600_000;
    assert.equal(new EventRepository(h.store.db).prune(later - 3_600_000, 1000, 300), 300);
    assert.equal(await retention.sweep(later), 700);
    assert.deepEqual(seqs(h), []);
  });

  it('refuses a retention bound below its minimum, naming the setting', async () => {
    const { settingsSchema } = await import('../../src/main/config/schema');
    const result = settingsSchema.safeParse({ eventRetentionMaxRows: 5 });
    assert.equal(result.success, false);
    assert.match(JSON.stringify(result.error?.issues), /eventRetentionMaxRows/);
  });
});
