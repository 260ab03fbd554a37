import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import type { ArchiveJson } from '../../src/shared/archive';
import type {
  CreatedCallbackJson,
  CreatedWebhookJson,
  WebhookDeliveryJson,
  WebhookJson,
} from '../../src/shared/webhooks';
import { json } from '../helpers/api';
import { TEST_CREDENTIALS } from '../helpers/headless';
import { DeliveryHarness } from '../helpers/servers/deliveryHarness';
import {
  createWebhookReceiver,
  type ReceivedRequest,
  type WebhookReceiver,
} from '../helpers/servers/webhookReceiver';
import { tempDir } from '../helpers/tmp';

/** The studio event envelope a studio webhook receives. */
interface Envelope {
  id: string;
  seq: number;
  type: string;
  createdAt: number;
  roomId?: string;
  archiveId?: string;
  data: Record<string, unknown>;
}

const headersOf = (request: ReceivedRequest) => ({
  'webhook-id': String(request.headers['webhook-id']),
  'webhook-timestamp': String(request.headers['webhook-timestamp']),
  'webhook-signature': String(request.headers['webhook-signature']),
});

describe('webhooks: signed, retried, in order, from a persistent outbox', () => {
  let dir: ReturnType<typeof tempDir>;
  let nas: ReturnType<typeof tempDir>;
  let receiver: WebhookReceiver;
  let h: DeliveryHarness;
  let token: string;
  const api = <T>(method: string, path: string, body?: unknown) =>
    json<T>(`${h.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}` },
      ...(body !== undefined ? { body } : {}),
    });

  beforeEach(async () => {
    dir = tempDir();
    nas = tempDir('spool-nas-');
    receiver = await createWebhookReceiver({ listen: false });
    h = await DeliveryHarness.start({ dataDir: dir.path, http: true });
    token = await h.token();
  });
  afterEach(async () => {
    await h.close();
    await receiver.close();
    dir.remove();
    nas.remove();
  });

  /** Records two archives and delivers them to a local folder: a stream of interleaved events. */
  async function recordTwoArchives(harness: DeliveryHarness) {
    harness.delivery.createTarget({ kind: 'local', name: 'NAS', path: nas.path });
    const a = await harness.createArchive([
      { filename: 'a.webm', size: 2000 },
      { filename: 'manifest.json', size: 100 },
    ]);
    const b = await harness.createArchive([{ filename: 'b.webm', size: 3000 }]);
    harness.archiveStatus.set(a.id, 'paused');
    harness.archiveStatus.set(b.id, 'paused');
    harness.archiveStatus.set(a.id, 'stopped');
    harness.available(a.id);
    harness.archiveStatus.set(b.id, 'stopped');
    harness.available(b.id);
    await harness.archiveReaches(a.id, 'uploaded');
    await harness.archiveReaches(b.id, 'uploaded');
    return [a.id, b.id];
  }

  it('a receiver that is down for the first attempts gets every event after, in order per archive, signed', async () => {
    const created = await api<CreatedWebhookJson>('POST', '/api/webhooks', { url: receiver.url('/studio') });
    assert.equal(created.status, 201);
    assert.match(created.body.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    const firstSeq = h.events.length > 0 ? Math.max(...h.events.map((e) => e.seq)) : 0;

    const archiveIds = await recordTwoArchives(h);
    h.bus.publish('studio.started', { version: 'test' });
    const expected = h.events.filter((e) => e.seq > firstSeq);
    assert.ok(expected.length >= 14, `${expected.length} persisted events`);

    // Down (connections refused) for a while, then answering 503, then up.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    receiver.failWith = 503;
    await receiver.listen();
    await new Promise((resolve) => setTimeout(resolve, 800));
    receiver.failWith = null;
    const accepted = await receiver.waitFor((r) => r.length >= expected.length, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(receiver.accepted().length, expected.length, 'each event delivered once');

    const verifier = new Webhook(created.body.secret);
    const bodies = accepted.map((request) => {
      assert.equal(request.headers['content-type'], 'application/json');
      // Throws unless the signature over id, timestamp and body is valid.
      const envelope = verifier.verify(request.body, headersOf(request)) as Envelope;
      assert.equal(request.headers['webhook-id'], envelope.id);
      return envelope;
    });
    assert.deepEqual(
      bodies.map((b) => b.id).sort(),
      expected.map((e) => e.id).sort(),
      'every persisted event, none missing',
    );
    for (const archiveId of archiveIds) {
      const seqs = bodies.filter((b) => b.archiveId === archiveId).map((b) => b.seq);
      assert.ok(seqs.length >= 6, `events of ${archiveId}`);
      assert.deepEqual(
        seqs,
        [...seqs].sort((x, y) => x - y),
        `events of archive ${archiveId} in order`,
      );
    }
    const uploaded = bodies.find((b) => b.type === 'archive.uploaded')!;
    assert.equal(uploaded.data.status, 'uploaded');
    const delivered = bodies.find((b) => b.type === 'delivery.succeeded')!;
    assert.equal(delivered.data.targetName, 'NAS');
    assert.match(String(delivered.data.url), /^file:\/\//);
    assert.ok(
      receiver.requests.some((r) => r.status === 503),
      'some attempts were answered 503',
    );

    // A body changed in transit fails verification.
    const sample = accepted[0]!;
    assert.throws(
      () => verifier.verify(sample.body.replace('"seq":', '"seq":1'), headersOf(sample)),
      WebhookVerificationError,
    );
    assert.throws(
      () =>
        new Webhook(`whsec_${Buffer.alloc(32, 1).toString('base64')}`).verify(sample.body, headersOf(sample)),
      WebhookVerificationError,
    );

    // The delivery log shows the refused, the 503 and the delivered attempts.
    const log = await api<{ items: WebhookDeliveryJson[] }>(
      'GET',
      `/api/webhooks/${created.body.id}/deliveries?limit=1000`,
    );
    assert.equal(log.status, 200);
    const codes = new Set(log.body.items.map((i) => i.statusCode));
    assert.ok(codes.has(null) && codes.has(503) && codes.has(204), [...codes].join(','));
    assert.ok(log.body.items.some((i) => i.error !== null && /ECONNREFUSED/.test(i.error)));
    assert.ok(log.body.items.every((i) => i.attempt >= 1 && i.messageId !== ''));
    const listed = await api<WebhookJson>('GET', `/api/webhooks/${created.body.id}`);
    assert.equal(listed.body.pending, 0);
    assert.equal(
      (listed.body as WebhookJson & { secret?: string }).secret,
      undefined,
      'the secret is shown once',
    );
  });

  it('undelivered messages survive a restart and go out after it', async () => {
    const created = h.webhooks.create({ url: receiver.url(), events: ['archive.*'] });
    const [archiveId] = await recordTwoArchives(h);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(h.webhooks.get(created.id).pending > 0);
    await h.close();

    await receiver.listen();
    h = await DeliveryHarness.start({ dataDir: dir.path, http: true });
    // Two archives, each paused, stopped, available and uploaded.
    const accepted = await receiver.waitFor((r) => r.length >= 8, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(h.webhooks.get(created.id).pending, 0);
    assert.equal(receiver.accepted().length, 8);
    const bodies = accepted.map((r) => new Webhook(created.secret).verify(r.body, headersOf(r)) as Envelope);
    assert.ok(
      bodies.every((b) => b.type.startsWith('archive.')),
      'only the events asked for',
    );
    assert.deepEqual(
      bodies.filter((b) => b.archiveId === archiveId).map((b) => b.type),
      ['archive.paused', 'archive.stopped', 'archive.available', 'archive.uploaded'],
    );
  });

  it('OpenTok callbacks are registered like OpenTok and receive the archive callback body', async () => {
    await receiver.listen();
    const path = `/v2/project/${TEST_CREDENTIALS.SPOOL_API_KEY}/callback`;
    const bad = await api<{ code: string; field: string }>('POST', path, {
      group: 'session',
      event: 'status',
      url: receiver.url(),
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'group');
    const created = await api<CreatedCallbackJson>('POST', path, {
      group: 'archive',
      event: 'status',
      url: receiver.url('/cb'),
    });
    assert.equal(created.status, 200);
    assert.equal(created.body.uri, receiver.url('/cb'));
    assert.ok(created.body.id !== '' && created.body.secret.startsWith('whsec_'));
    const listed = await api<Array<{ id: string; url: string; group: string; event: string }>>('GET', path);
    assert.deepEqual(
      listed.body.map(({ id, url, group, event }) => ({ id, url, group, event })),
      [{ id: created.body.id, url: receiver.url('/cb'), group: 'archive', event: 'status' }],
    );
    const wrongKey = await api('GET', '/v2/project/999/callback');
    assert.equal(wrongKey.status, 403);
    // Ref2013: 400 when the JSON data is longer than 8096 characters, whatever fields make it so.
    const sized = (length: number) => {
      const body = { group: 'archive', event: 'status', url: receiver.url('/long'), note: '' };
      body.note = 'x'.repeat(length - JSON.stringify(body).length);
      assert.equal(JSON.stringify(body).length, length);
      return body;
    };
    const tooLong = await api<{ code: string; message: string }>('POST', path, sized(8097));
    assert.equal(tooLong.status, 400, JSON.stringify(tooLong.body));
    assert.match(tooLong.body.message, /8096/);
    const longest = await api<CreatedCallbackJson>('POST', path, sized(8096));
    assert.equal(longest.status, 200, JSON.stringify(longest.body));
    assert.equal((await api('DELETE', `${path}/${longest.body.id}`)).status, 204);

    const [archiveId] = await recordTwoArchives(h);
    const accepted = await receiver.waitFor((r) => r.filter((x) => x.body.includes(archiveId!)).length >= 4);
    const bodies = accepted
      .filter((r) => r.path === '/cb')
      .map((r) => new Webhook(created.body.secret).verify(r.body, headersOf(r)) as ArchiveJson);
    assert.ok(
      bodies.every((b) => b.event === 'archive'),
      'archive status callbacks only',
    );
    const mine = bodies.filter((b) => b.id === archiveId);
    assert.deepEqual(
      mine.map((b) => b.status),
      ['paused', 'stopped', 'available', 'uploaded'],
    );
    assert.equal(mine[0]!.partnerId, Number(TEST_CREDENTIALS.SPOOL_API_KEY));
    assert.equal(mine[0]!.sessionId, h.archives.get(archiveId!)!.roomId);

    const removed = await api('DELETE', `${path}/${created.body.id}`);
    assert.equal(removed.status, 204);
    assert.deepEqual((await api<unknown[]>('GET', path)).body, []);
    assert.equal((await api('DELETE', `${path}/${created.body.id}`)).status, 404);
  });

  it('validates registrations and names the field, and never logs a signing secret', async () => {
    const noUrl = await api<{ code: string; field: string; message: string }>('POST', '/api/webhooks', {
      url: 'ftp://x',
    });
    assert.equal(noUrl.status, 400);
    assert.equal(noUrl.body.code, 'InvalidArgument');
    assert.equal(noUrl.body.field, 'url');
    const badFilter = await api<{ field: string }>('POST', '/api/webhooks', {
      url: receiver.url(),
      events: ['Archive Uploaded'],
    });
    assert.equal(badFilter.status, 400);
    assert.equal(badFilter.body.field, 'events[0]');
    const unknown = await api<{ field: string }>('POST', '/api/webhooks', { url: receiver.url(), extra: 1 });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.field, 'extra');
    const unauthenticated = await json(`${h.url}/api/webhooks`);
    assert.equal(unauthenticated.status, 401);

    const created = await api<CreatedWebhookJson>('POST', '/api/webhooks', {
      url: receiver.url(),
      events: ['delivery.*'],
    });
    const patched = await api<WebhookJson>('PATCH', `/api/webhooks/${created.body.id}`, {
      enabled: false,
      events: null,
    });
    assert.equal(patched.body.enabled, false);
    assert.equal(patched.body.events, null);
    const list = await api<{ items: WebhookJson[] }>('GET', '/api/webhooks');
    assert.deepEqual(
      list.body.items.map((w) => w.id),
      [created.body.id],
    );
    assert.ok(!JSON.stringify(list.body).includes(created.body.secret.slice(6)));
    assert.equal((await api('DELETE', `/api/webhooks/${created.body.id}`)).status, 204);
    assert.equal((await api('GET', `/api/webhooks/${created.body.id}`)).status, 404);
    assert.ok(
      !h.logLines.some((line) => line.includes(created.body.secret.slice(6))),
      'secret not in the log',
    );
  });
});
