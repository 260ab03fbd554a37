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
