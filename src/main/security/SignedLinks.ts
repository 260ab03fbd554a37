import { createHmac, timingSafeEqual } from 'node:crypto';
import { StudioError } from '../../shared/errors';

/** A signed download link and when it stops working. */
export interface SignedLink {
  /** Absolute URL: `<base>/links/<archiveId>/<file>?expires=…&signature=…`. */
  url: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

/** The path prefix signed links are served under. */
export const SIGNED_LINK_PREFIX = '/links';

/**
 * Expiring download links that need no credentials: an HMAC-SHA256 (key of the studio) over the
 * link's path and its expiry, as OpenTok's pre-signed archive URLs. Altering the path or the
 * expiry breaks the signature; an expired link is refused even with a good signature.
 */
export class SignedLinks {
  readonly #key: Buffer;
  readonly #ttlSec: () => number;

  /** `ttlSec` is read at each mint, so a settings change applies at once. */
  constructor(key: Buffer, ttlSec: () => number) {
    this.#key = key;
    this.#ttlSec = ttlSec;
  }

  /** Seconds a new link lives. */
  get ttlSec(): number {
    return this.#ttlSec();
  }

  #sign(path: string, expiresSec: number): string {
    return createHmac('sha256', this.#key).update(`${path}\n${expiresSec}`).digest('base64url');
  }

  /** The path of an archive file's link (file names keep their folders: `split/x.webm`). */
  static pathOf(archiveId: string, file: string): string {
    return `${SIGNED_LINK_PREFIX}/${encodeURIComponent(archiveId)}/${file
      .split('/')
      .map(encodeURIComponent)
      .join('/')}`;
  }

  /** Mints a link to a file of an archive, valid from now for the configured lifetime. */
  mint(baseUrl: string, archiveId: string, file: string, now = Date.now()): SignedLink {
    const path = SignedLinks.pathOf(archiveId, file);
    const expiresSec = Math.floor(now / 1000) + this.#ttlSec();
    const signature = this.#sign(path, expiresSec);
    return {
      url: `${baseUrl}${path}?expires=${expiresSec}&signature=${signature}`,
      expiresAt: expiresSec * 1000,
    };
  }

  /**
   * Checks a request for a link: `path` as requested (still percent-encoded), `expires` and
   * `signature` from its query. Throws PermissionDenied naming what is wrong.
   */
  verify(path: string, expires: unknown, signature: unknown, now = Date.now()): void {
    const malformed = (name: string, value: unknown, shape: string) =>
      new StudioError(
        'PermissionDenied',
        value === undefined
          ? `link is missing its ${name}; ask for a new link`
          : Array.isArray(value)
            ? `link gives ${name} more than once; ask for a new link`
            : `link's ${name} is not ${shape} (the link was altered or cut short); ask for a new link`,
        name,
      );
    if (typeof expires !== 'string' || !/^\d{1,12}$/.test(expires))
      throw malformed('expires', expires, 'a time in whole seconds since 1970');
    if (typeof signature !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(signature))
      throw malformed('signature', signature, '43 base64url characters');
    const expected = Buffer.from(this.#sign(path, Number(expires)));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given))
      throw new StudioError(
        'PermissionDenied',
        'link signature does not match (the link was altered)',
        'signature',
      );
    if (Number(expires) * 1000 <= now)
      throw new StudioError(
        'PermissionDenied',
        `link expired at ${new Date(Number(expires) * 1000).toISOString()}; ask for a new link`,
        'expires',
      );
  }
}
