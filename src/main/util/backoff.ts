/**
 * Delay before attempt `attempt + 1` after `attempt` failures: exponential from `baseSec`,
 * capped at `maxSec`, with jitter so retries of many items do not arrive together.
 * `slow` (errors the user must fix) waits the capped delay at once.
 */
export function backoffMs(
  attempt: number,
  baseSec: number,
  maxSec: number,
  slow = false,
  random = Math.random,
): number {
  const maxMs = maxSec * 1000;
  const exp = slow ? maxMs : Math.min(maxMs, baseSec * 1000 * 2 ** Math.max(0, attempt - 1));
  // "Equal jitter": at least half the delay, so the schedule still backs off.
  const jittered = exp / 2 + (random() * exp) / 2;
  // A floor keeps a zero base (tests) from spinning.
  return Math.max(100, Math.round(jittered));
}

/**
 * The wait a `Retry-After` header asks for, in ms from `now`: delta-seconds (`120`) or an
 * HTTP-date (`Wed, 21 Oct 2015 07:28:00 GMT`). Null when absent or unreadable (the caller's
 * backoff decides); a date in the past is 0.
 */
export function retryAfterMs(header: string | string[] | undefined, now: number): number | null {
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  if (value === undefined || value === '') return null;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  // Only the HTTP-date forms (a weekday or month name in them), not every string Date reads.
  if (!/[a-z]{3}/i.test(value)) return null;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}
