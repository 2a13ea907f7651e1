/**
 * Timestamps as Kubernetes writes them (metav1.Time): RFC 3339 in UTC with whole seconds,
 * e.g. 2026-11-25T12:23:00Z. Fractions are dropped (truncated), as the API server does.
 */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
