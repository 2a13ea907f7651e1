/**
 * Exponential backoff: base * 2^(attempt-1), capped. attempt starts at 1.
 * Used for crash-loop restarts (10 s .. 5 min), Job pod failures (10 s .. 6 min),
 * reconnects and requeues.
 */
export function backoffDelay(attempt: number, baseMs: number, capMs: number): number {
  if (attempt <= 0) return 0;
  const exp = Math.min(attempt - 1, 30);
  return Math.min(capMs, baseMs * 2 ** exp);
}

/** Backoff with +-jitter fraction (0..1), randomness injected. */
export function jittered(delayMs: number, fraction: number, rnd: () => number): number {
  return Math.max(0, Math.round(delayMs * (1 - fraction + 2 * fraction * rnd())));
}
