import { randomUUID } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import type { Role } from '../../shared/rooms';
import { StudioError } from '../../shared/errors';

/** What a join token grants. */
export interface JoinClaims {
  roomId: string;
  role: Role;
  connectionData: string;
  recordingBlock: boolean;
  expiresAt: number;
}

/** The refusal of a join link past its expiry. */
export const linkExpired = (): StudioError =>
  new StudioError('PermissionDenied', 'this join link has expired; ask the host for a new one', 'token');

/** Signed join tokens (HS256 with the studio's join key). */
export class JoinTokens {
  readonly #key: Uint8Array;

  constructor(key: Uint8Array) {
    this.#key = key;
  }

  async issue(
    claims: Omit<JoinClaims, 'expiresAt'>,
    ttlSec: number,
  ): Promise<{ token: string; expiresAt: number }> {
    const expiresAt = Date.now() + ttlSec * 1000;
    const token = await new SignJWT({
      role: claims.role,
      cd: claims.connectionData,
      rb: claims.recordingBlock,
    })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(claims.roomId)
      .setIssuer('spool-studio/join')
      // Unique per issue: two links for the same room and role are still two identities (WHIP ownership).
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime(Math.floor(expiresAt / 1000))
      .sign(this.#key);
    return { token, expiresAt };
  }

  /**
   * Verifies a token for a room; the error says why a guest is refused. `evenExpired`: a token
   * signed by this studio is taken after it expired too (its `expiresAt` says so), for what its
   * holder started before (a WHIP session it must still be able to end).
   */
  async verify(token: string, roomId?: string, options: { evenExpired?: boolean } = {}): Promise<JoinClaims> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.#key, {
        algorithms: ['HS256'],
        issuer: 'spool-studio/join',
      }));
    } catch (error) {
      // jose checks the signature, then the issuer, then the expiry: the payload it reports with
      // JWTExpired was signed with the key (the issuer is checked again all the same).
      if (
        error instanceof joseErrors.JWTExpired &&
        options.evenExpired === true &&
        error.payload.iss === 'spool-studio/join'
      ) {
        payload = error.payload;
      } else if (error instanceof joseErrors.JWTExpired) {
        throw linkExpired();
      } else
        throw new StudioError('PermissionDenied', 'this join link is not valid for this studio', 'token');
    }
    const role = payload.role;
    if (
      typeof payload.sub !== 'string' ||
      (role !== 'moderator' && role !== 'publisher' && role !== 'subscriber')
    ) {
      throw new StudioError('PermissionDenied', 'this join link is malformed', 'token');
    }
    if (roomId !== undefined && payload.sub !== roomId) {
      throw new StudioError('PermissionDenied', 'this join link is for another room', 'token');
    }
    return {
      roomId: payload.sub,
      role,
      connectionData: typeof payload.cd === 'string' ? payload.cd : '',
      recordingBlock: payload.rb === true,
      expiresAt: (payload.exp ?? 0) * 1000,
    };
  }
}
