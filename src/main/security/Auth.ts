import { timingSafeEqual, createHash } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { StudioError } from '../../shared/errors';

/** Who a request is: the operator (UI, Electron) or a project API client (OpenTok-style JWT). */
export type Principal = { kind: 'operator' } | { kind: 'project'; apiKey: string };

export interface AuthOptions {
  apiKey: string;
  apiSecret: string;
  operatorPassword: string;
  /** Key that signs operator tokens. */
  operatorKey: Uint8Array;
  /** Lifetime of an operator token from the login form. */
  operatorTokenTtlSec?: number;
}

/** Compares two strings in time that does not depend on where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  // Hash first so lengths are equal and the comparison leaks nothing about the length.
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

const unauthenticated = (message: string) => new StudioError('Unauthenticated', message);
const denied = (message: string) => new StudioError('PermissionDenied', message);

/** Operator logins and tokens, and verification of project API credentials. */
export class Auth {
  readonly #options: AuthOptions;
  readonly #projectKey: Uint8Array;

  constructor(options: AuthOptions) {
    this.#options = options;
    this.#projectKey = new TextEncoder().encode(options.apiSecret);
  }

  get apiKey(): string {
    return this.#options.apiKey;
  }

  /** Exchanges the operator password for a bearer token. */
  async login(password: string): Promise<{ token: string; expiresAt: number }> {
    if (!constantTimeEqual(password, this.#options.operatorPassword)) {
      throw unauthenticated('wrong operator password');
    }
    return this.issueOperatorToken(this.#options.operatorTokenTtlSec ?? 12 * 3600);
  }

  /** A bearer token for the operator (the Electron window gets one without a password). */
  async issueOperatorToken(ttlSec: number): Promise<{ token: string; expiresAt: number }> {
    const expiresAt = Date.now() + ttlSec * 1000;
    const token = await new SignJWT({ scope: 'operator' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuedAt()
      .setExpirationTime(Math.floor(expiresAt / 1000))
      .setIssuer('spool-studio')
      .sign(this.#options.operatorKey);
    return { token, expiresAt };
  }

  async verifyOperatorToken(token: string): Promise<Principal> {
    try {
      await jwtVerify(token, this.#options.operatorKey, { algorithms: ['HS256'], issuer: 'spool-studio' });
      return { kind: 'operator' };
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired)
        throw unauthenticated('operator token expired; log in again');
      throw denied('invalid operator token');
    }
  }

  /**
   * Verifies the OpenTok project JWT (`X-OPENTOK-AUTH`): HS256 with the API secret,
   * `iss` = API key, `ist` = "project", unexpired.
   */
  async verifyProjectJwt(token: string): Promise<Principal> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.#projectKey, {
        algorithms: ['HS256'],
        clockTolerance: 300,
      }));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw denied('X-OPENTOK-AUTH token expired');
      throw denied("X-OPENTOK-AUTH token is not signed with this project's API secret");
    }
    if (payload.ist !== 'project') throw denied('X-OPENTOK-AUTH token must have ist "project"');
    if (String(payload.iss) !== this.#options.apiKey)
      throw denied('X-OPENTOK-AUTH token iss is not this API key');
    return { kind: 'project', apiKey: this.#options.apiKey };
  }

  /** The legacy `X-TB-PARTNER-AUTH: <apiKey>:<apiSecret>` header. */
  verifyPartnerAuth(value: string): Principal {
    const colon = value.indexOf(':');
    const key = colon < 0 ? value : value.slice(0, colon);
    const secret = colon < 0 ? '' : value.slice(colon + 1);
    const ok =
      constantTimeEqual(key, this.#options.apiKey) && constantTimeEqual(secret, this.#options.apiSecret);
    if (!ok) throw denied('invalid X-TB-PARTNER-AUTH API key or secret');
    return { kind: 'project', apiKey: this.#options.apiKey };
  }

  /** Authenticates request headers; throws Unauthenticated (none given) or PermissionDenied (wrong). */
  async authenticate(headers: Record<string, string | string[] | undefined>): Promise<Principal> {
    const single = (name: string): string | undefined => {
      const value = headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const opentok = single('x-opentok-auth');
    if (opentok !== undefined && opentok !== '') return this.verifyProjectJwt(opentok.trim());
    const partner = single('x-tb-partner-auth');
    if (partner !== undefined && partner !== '') return this.verifyPartnerAuth(partner.trim());
    const authorization = single('authorization');
    if (authorization !== undefined) {
      const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
      if (match === null) throw unauthenticated('Authorization header must be "Bearer <token>"');
      return this.verifyOperatorToken(match[1]!);
    }
    throw unauthenticated('credentials required: an operator bearer token or an X-OPENTOK-AUTH project JWT');
  }
}
