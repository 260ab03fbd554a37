import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { bodyOf, wants } from '../../src/main/webhooks/WebhookDispatcher';
import type { AnyStudioEvent } from '../../src/shared/events';

const archiveEvent = {
  id: 'evt-1',
  seq: 7,
  type: 'archive.uploaded',
  createdAt: 1700000000000,
  roomId: 'room-1',
  archiveId: 'a1',
  data: { id: 'a1', event: 'archive', status: 'uploaded' },
} as unknown as AnyStudioEvent;

describe('webhook messages', () => {
  it('studio webhooks get every event, or the types and groups they list', () => {
    assert.equal(wants({ kind: 'studio', events: null }, 'studio.started'), true);
    assert.equal(wants({ kind: 'studio', events: ['delivery.*'] }, 'delivery.succeeded'), true);
    assert.equal(wants({ kind: 'studio', events: ['delivery.*'] }, 'archive.uploaded'), false);
    assert.equal(
      wants({ kind: 'studio', events: ['archive.uploaded', 'room.created'] }, 'room.created'),
      true,
    );
    assert.equal(wants({ kind: 'studio', events: ['*'] }, 'session.created'), true);
  });

  it('OpenTok callbacks get archive status changes only', () => {
    assert.equal(wants({ kind: 'opentok', events: null }, 'archive.available'), true);
    assert.equal(wants({ kind: 'opentok', events: null }, 'archive.progress'), false);
    assert.equal(wants({ kind: 'opentok', events: null }, 'delivery.succeeded'), false);
  });

  it('studio webhooks get the event envelope; OpenTok callbacks the archive JSON', () => {
    assert.deepEqual(JSON.parse(bodyOf({ kind: 'studio' }, archiveEvent)), {
      id: 'evt-1',
      seq: 7,
      type: 'archive.uploaded',
      createdAt: 1700000000000,
      roomId: 'room-1',
      archiveId: 'a1',
      data: { id: 'a1', event: 'archive', status: 'uploaded' },
    });
    assert.deepEqual(JSON.parse(bodyOf({ kind: 'opentok' }, archiveEvent)), {
      id: 'a1',
      event: 'archive',
      status: 'uploaded',
    });
    // OpenTok's callbacks round createdAt to the nearest second.
    const started = {
      ...archiveEvent,
      data: { id: 'a1', event: 'archive', status: 'started', createdAt: 1700000000600 },
    } as unknown as AnyStudioEvent;
    assert.equal(JSON.parse(bodyOf({ kind: 'opentok' }, started)).createdAt, 1700000001000);
    assert.equal(JSON.parse(bodyOf({ kind: 'studio' }, started)).data.createdAt, 1700000000600);
  });

  it('signatures made with a whsec_ secret verify, and fail for another body or secret', () => {
    const secret = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
    const body = bodyOf({ kind: 'studio' }, archiveEvent);
    const now = new Date();
    const headers = {
      'webhook-id': 'evt-1',
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': new Webhook(secret).sign('evt-1', now, body),
    };
    assert.match(headers['webhook-signature'], /^v1,[A-Za-z0-9+/]+=*$/);
    assert.deepEqual(new Webhook(secret).verify(body, headers), JSON.parse(body));
    assert.throws(() => new Webhook(secret).verify(body.replace('uploaded', 'failed'), headers));
    assert.throws(() => new Webhook(`whsec_${Buffer.alloc(32, 8).toString('base64')}`).verify(body, headers));
  });
});
