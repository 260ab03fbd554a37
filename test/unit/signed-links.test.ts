import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { SignedLinks } from '../../src/main/security/SignedLinks';
import { StudioError } from '../../src/shared/errors';
import { createWebhookSchema } from '../../src/shared/webhooks';
import { wants } from '../../src/main/webhooks/WebhookDispatcher';

const BASE = 'http://127.0.0.1:7480';
const ID = 'b40ef09b-3811-4726-b508-e41a0f96c68f';

function parts(url: string): { path: string; expires: string | null; signature: string | null } {
  const u = new URL(url);
  return {
    path: u.pathname,
    expires: u.searchParams.get('expires'),
    signature: u.searchParams.get('signature'),
  };
}

function refusal(run: () => void): string {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof StudioError);
    assert.equal(error.code, 'PermissionDenied');
    return error.message;
  }
  assert.fail('the link was accepted');
}

describe('signed download links', () => {
  const links = new SignedLinks(randomBytes(32), () => 600);
  const now = Date.UTC(2026, 0, 1);

  it('accepts a link minted for a file until it expires, then refuses it as expired', () => {
    const link = links.mint(BASE, ID, 'split/abc_0001.webm', now);
    assert.equal(link.expiresAt, now + 600_000);
    const { path, expires, signature } = parts(link.url);
    assert.equal(path, `/links/${ID}/split/abc_0001.webm`);
    links.verify(path, expires, signature, now + 599_000);
    assert.match(
      refusal(() => links.verify(path, expires, signature, now + 600_000)),
      /expired/,
    );
  });

  it('refuses an altered path, expiry or signature, and a link of another key', () => {
    const { path, expires, signature } = parts(links.mint(BASE, ID, 'a.webm', now).url);
    assert.match(
      refusal(() => links.verify(path.replace('a.webm', 'b.webm'), expires, signature, now)),
      /altered/,
    );
    assert.match(
      refusal(() => links.verify(path, String(Number(expires) + 1), signature, now)),
      /altered/,
    );
    const flipped = `${signature!.slice(0, -1)}${signature!.endsWith('A') ? 'B' : 'A'}`;
    assert.match(
      refusal(() => links.verify(path, expires, flipped, now)),
      /altered/,
    );
    assert.match(
      refusal(() => links.verify(path, undefined, signature, now)),
      /expires/,
    );
    assert.match(
      refusal(() => links.verify(path, expires, undefined, now)),
      /signature/,
    );
    // What was wrong with a malformed one is named.
    assert.match(
      refusal(() => links.verify(path, '-1', signature, now)),
      /expires is not a time in whole seconds/,
    );
    assert.match(
      refusal(() => links.verify(path, '1796210048.0', signature, now)),
      /expires is not a time/,
    );
    assert.match(
      refusal(() => links.verify(path, [expires, expires], signature, now)),
      /gives expires more than once/,
    );
    assert.match(
      refusal(() => links.verify(path, expires, 'abc', now)),
      /signature is not 43 base64url characters/,
    );
    assert.match(
      refusal(() => links.verify(path, expires, [signature, signature], now)),
      /gives signature more than once/,
    );
    assert.match(
      refusal(() => links.verify(path, undefined, signature, now)),
      /missing its expires/,
    );
    const other = new SignedLinks(randomBytes(32), () => 600);
    assert.match(
      refusal(() => other.verify(path, expires, signature, now)),
      /altered/,
    );
  });

  it('reads its lifetime at each mint, so a settings change applies at once', () => {
    let ttl = 600;
    const live = new SignedLinks(randomBytes(32), () => ttl);
    assert.equal(live.mint(BASE, ID, 'a.webm', now).expiresAt, now + 600_000);
    ttl = 5;
    assert.equal(live.mint(BASE, ID, 'a.webm', now).expiresAt, now + 5_000);
  });
});

describe('per-file event filters and status callbacks', () => {
  it('webhook filters accept the per-file event types and their groups', () => {
    for (const events of [['archive.file.available'], ['split-archive.*'], ['split-archive-end.available']]) {
      assert.ok(
        createWebhookSchema.safeParse({ url: 'http://127.0.0.1:1/x', events }).success,
        String(events),
      );
    }
    assert.equal(wants({ kind: 'studio', events: ['split-archive.*'] }, 'split-archive.available'), true);
    assert.equal(
      wants({ kind: 'studio', events: ['split-archive.*'] }, 'split-archive-end.available'),
      false,
    );
    assert.equal(wants({ kind: 'studio', events: ['archive.*'] }, 'archive.file.available'), true);
  });

  it('a status callback gets the events of its composition or hook only', () => {
    const one = { kind: 'callback' as const, events: ['compositionId:c1'] };
    assert.equal(wants(one, 'composition.available', { compositionId: 'c1' }), true);
    assert.equal(wants(one, 'composition.available', { compositionId: 'c2' }), false);
    assert.equal(wants(one, 'archive.available', { compositionId: 'c1' }), false);
    const hook = { kind: 'callback' as const, events: ['hookId:h1'] };
    assert.equal(wants(hook, 'composition.started', { compositionId: 'c9', hookId: 'h1' }), true);
    assert.equal(wants(hook, 'composition.started', { compositionId: 'c9', hookId: null }), false);
  });
});
