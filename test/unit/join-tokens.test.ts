import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { JoinTokens } from '../../src/main/rooms/JoinTokens';

const key = new Uint8Array(32).fill(7);
const tokens = new JoinTokens(key);
const claims = { roomId: 'room-1', role: 'publisher' as const, connectionData: '', recordingBlock: false };

/** A token expired a minute ago, signed with `signingKey`, claiming this issuer. */
const expired = (signingKey: Uint8Array, issuer = 'spool-studio/join') =>
  new SignJWT({ role: 'publisher', cd: '', rb: false })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject('room-1')
    .setIssuer(issuer)
    .setIssuedAt(Math.floor(Date.now() / 1000) - 120)
    .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
    .sign(signingKey);

describe('join tokens taken after their expiry (evenExpired: a WHIP session its token created)', () => {
  it('an expired token of this studio: refused as expired, taken with evenExpired (its expiry in the claims)', async () => {
    const token = await expired(key);
    await assert.rejects(tokens.verify(token, 'room-1'), /has expired/);
    const taken = await tokens.verify(token, 'room-1', { evenExpired: true });
    assert.equal(taken.role, 'publisher');
    assert.ok(taken.expiresAt < Date.now());
    const live = await tokens.issue(claims, 60);
    assert.ok((await tokens.verify(live.token, 'room-1', { evenExpired: true })).expiresAt > Date.now());
  });

  it('never one signed with another key or of another issuer, nor for another room', async () => {
    await assert.rejects(
      tokens.verify(await expired(new Uint8Array(32).fill(8)), 'room-1', { evenExpired: true }),
      /not valid for this studio/,
    );
    await assert.rejects(
      tokens.verify(await expired(key, 'someone-else'), 'room-1', { evenExpired: true }),
      /not valid for this studio/,
    );
    await assert.rejects(
      tokens.verify(await expired(key), 'room-2', { evenExpired: true }),
      /for another room/,
    );
  });
});
