import { StudioError } from '../../shared/errors';

/** A refusal because a client failed too often; the HTTP layer sends `Retry-After`. */
export class RateLimitedError extends StudioError {
  declare readonly retryAfterSec: number;

  constructor(message: string, retryAfterSec: number) {
    super('RateLimited', message, undefined, { retryAfterSec });
  }
}

/**
 * Counts failed credential checks per client (the remote address): after `limit` failures in
 * the window, every further attempt from that client is refused until the oldest failure
 * leaves the window. Operator logins and legacy partner-auth headers share one count.
 */
export class LoginThrottle {
  readonly #failures = new Map<string, number[]>();
  readonly #limit: () => number;
  readonly #windowMs: number;

  constructor(limit: () => number, windowMs = 60_000) {
    this.#limit = limit;
    this.#windowMs = windowMs;
  }

  #recent(client: string, now: number): number[] {
    const list = (this.#failures.get(client) ?? []).filter((t) => now - t < this.#windowMs);
    if (list.length === 0) this.#failures.delete(client);
    else this.#failures.set(client, list);
    return list;
  }

  /** Throws RateLimitedError when the client has used up its failures. */
  check(client: string, now = Date.now()): void {
    const recent = this.#recent(client, now);
    if (recent.length >= this.#limit()) {
      const retryAfterSec = Math.max(1, Math.ceil((recent[0]! + this.#windowMs - now) / 1000));
      throw new RateLimitedError(
        `too many failed sign-in attempts from this address; try again in ${retryAfterSec} s`,
        retryAfterSec,
      );
    }
  }

  /** Records one failure of the client. */
  fail(client: string, now = Date.now()): void {
    const recent = this.#recent(client, now);
    recent.push(now);
    this.#failures.set(client, recent);
    // Bound memory under a spray of addresses: forget the oldest clients.
    if (this.#failures.size > 10_000) {
      const oldest = this.#failures.keys().next().value;
      if (oldest !== undefined) this.#failures.delete(oldest);
    }
  }
}
