import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { StudioError } from '../../shared/errors';
import type { LoginThrottle } from './LoginThrottle';

/** Who a request is: the operator (UI, Electron) or a project API client (OpenTok-style JWT). */
export type Principal = { kind: 'operator' } | { kind: 'project'; apiKey: string };

export interface AuthOptions {
  apiKey: string;
  apiSecret: string;
  /** The operator password now (read at each use: changing it revokes earlier tokens). */
  operatorPassword: string | (() => string);
  /** Key that signs operator tokens. */
  operatorKey: Uint8Array;
  /** Lifetime of an operator token from the login form. */
  operatorTokenTtlSec?: number;
  /** Counts failed logins and partner-auth headers per client; none: no limit. */
  throttle?: LoginThrottle;
  /** Oldest `iat` of a project JWT accepted, in seconds (default 1 h). */
  projectTokenMaxAgeSec?: number;
}

/** Which credentials a route admits (its access class decides). */
export interface AllowedCredentials {
  operator: boolean;
  project: boolean;
  /** The legacy `X-TB-PARTNER-AUTH` header: only on the OpenTok-compatible routes. */
  partner: boolean;
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

/** Project JWTs may be issued this far in the future (clock skew between machines). */
const FUTURE_SKEW_SEC = 300;

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

  #password(): string {
    const value = this.#options.operatorPassword;
    return typeof value === 'function' ? value() : value;
  }

  /** Names the current password in tokens without revealing it: a new password revokes old tokens. */
  #passwordTag(): string {
    return createHmac('sha256', this.#options.operatorKey)
      .update(this.#password())
      .digest('base64url')
      .slice(0, 22);
  }

  /** Exchanges the operator password for a bearer token; `client` is the caller's address. */
  async login(password: string, client = 'local'): Promise<{ token: string; expiresAt: number }> {
    this.#options.throttle?.check(client);
    if (!constantTimeEqual(password, this.#password())) {
      this.#options.throttle?.fail(client);
      throw unauthenticated('wrong operator password');
    }
    return this.issueOperatorToken(this.#options.operatorTokenTtlSec ?? 12 * 3600);
  }

  /** A bearer token for the operator (the Electron window gets one without a password). */
  async issueOperatorToken(ttlSec: number): Promise<{ token: string; expiresAt: number }> {
    const expiresAt = Date.now() + ttlSec * 1000;
    const token = await new SignJWT({ scope: 'operator', pwd: this.#passwordTag() })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuedAt()
      .setExpirationTime(Math.floor(expiresAt / 1000))
      .setIssuer('spool-studio')
      .sign(this.#options.operatorKey);
    return { token, expiresAt };
  }

  async verifyOperatorToken(token: string): Promise<Principal> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.#options.operatorKey, {
        algorithms: ['HS256'],
        issuer: 'spool-studio',
      }));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired)
        throw unauthenticated('operator token expired; log in again');
      throw denied('invalid operator token');
    }
    if (payload.pwd !== this.#passwordTag())
      throw unauthenticated('the operator password changed since this token was issued; log in again');
    return { kind: 'operator' };
  }

  /**
   * Verifies the OpenTok project JWT (`X-OPENTOK-AUTH`): HS256 with the API secret,
   * `iss` = API key, `ist` = "project", with `exp` and `iat`, issued within the last hour.
   */
  async verifyProjectJwt(token: string, now = Date.now()): Promise<Principal> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.#projectKey, {
        algorithms: ['HS256'],
        clockTolerance: FUTURE_SKEW_SEC,
        currentDate: new Date(now),
      }));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw unauthenticated('X-OPENTOK-AUTH token expired (exp)');
      if (error instanceof joseErrors.JOSEAlgNotAllowed)
        throw denied('X-OPENTOK-AUTH token must be signed with HS256 (the project API secret)');
      if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JWTInvalid)
        throw denied('X-OPENTOK-AUTH token is not a JWT (three base64url parts, a JSON header and claims)');
      throw denied("X-OPENTOK-AUTH token is not signed with this project's API secret");
    }
    if (typeof payload.exp !== 'number') throw unauthenticated('X-OPENTOK-AUTH token has no exp claim');
    if (typeof payload.iat !== 'number') throw unauthenticated('X-OPENTOK-AUTH token has no iat claim');
    const nowSec = now / 1000;
    const maxAge = this.#options.projectTokenMaxAgeSec ?? 3600;
    if (payload.iat > nowSec + FUTURE_SKEW_SEC)
      throw unauthenticated('X-OPENTOK-AUTH token iat is in the future; check the clock of the caller');
    if (nowSec - payload.iat > maxAge)
      throw unauthenticated(`X-OPENTOK-AUTH token was issued (iat) more than ${maxAge} s ago`);
    if (payload.ist !== 'project') throw denied('X-OPENTOK-AUTH token must have ist "project"');
    if (String(payload.iss) !== this.#options.apiKey)
      throw denied('X-OPENTOK-AUTH token iss is not this API key');
    return { kind: 'project', apiKey: this.#options.apiKey };
  }

  /** The legacy `X-TB-PARTNER-AUTH: <apiKey>:<apiSecret>` header; failures count per client. */
  verifyPartnerAuth(value: string, client = 'local'): Principal {
    this.#options.throttle?.check(client);
    const colon = value.indexOf(':');
    const key = colon < 0 ? value : value.slice(0, colon);
    const secret = colon < 0 ? '' : value.slice(colon + 1);
    const ok =
      constantTimeEqual(key, this.#options.apiKey) && constantTimeEqual(secret, this.#options.apiSecret);
    if (!ok) {
      this.#options.throttle?.fail(client);
      throw denied('invalid X-TB-PARTNER-AUTH API key or secret');
    }
    return { kind: 'project', apiKey: this.#options.apiKey };
  }

  /**
   * Authenticates request headers with the credentials a route admits; throws Unauthenticated
   * (none given), PermissionDenied (wrong, or a kind this route does not take) or RateLimited.
   */
  async authenticate(
    headers: Record<string, string | string[] | undefined>,
    allow: AllowedCredentials = { operator: true, project: true, partner: false },
    client = 'local',
  ): Promise<Principal> {
    const single = (name: string): string | undefined => {
      const value = headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const opentok = single('x-opentok-auth');
    if (opentok !== undefined && opentok !== '') {
      if (!allow.project) throw denied('this route takes the operator token, not X-OPENTOK-AUTH');
      return this.verifyProjectJwt(opentok.trim());
    }
    const partner = single('x-tb-partner-auth');
    if (partner !== undefined && partner !== '') {
      if (!allow.partner)
        throw denied('X-TB-PARTNER-AUTH is accepted only on the OpenTok routes (/v2, /session/create)');
      return this.verifyPartnerAuth(partner.trim(), client);
    }
    const authorization = single('authorization');
    if (authorization !== undefined && allow.operator) {
      const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
      if (match === null) throw unauthenticated('Authorization header must be "Bearer <token>"');
      return this.verifyOperatorToken(match[1]!);
    }
    if (!allow.operator) throw unauthenticated('credentials required: an X-OPENTOK-AUTH project JWT');
    throw unauthenticated(
      allow.project
        ? 'credentials required: an operator bearer token or an X-OPENTOK-AUTH project JWT'
        : 'credentials required: the operator bearer token',
    );
  }
}
