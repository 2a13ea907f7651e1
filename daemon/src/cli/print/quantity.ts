/**
 * Resource quantities (`500m`, `2`, `64Mi`, `1G`, `1e3`) for describe: parse to a number of base
 * units and print sums the way resource.Quantity's canonical String() usually reads
 * (cpu in millicores or whole cores, sizes with the largest exact suffix of the family used).
 */

import { parseQuantity as parseApiQuantity } from '../../api/quantity.js';

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };

export interface Quantity {
  value: number;
  binary: boolean;
}

/** Parse a quantity (the API's grammar); undefined when it is not one. */
export function parseQuantity(s: string | number | undefined | null): Quantity | undefined {
  if (s === undefined || s === null) return undefined;
  const value = parseApiQuantity(typeof s === 'string' ? s.trim() : s);
  if (value === undefined) return undefined;
  return { value, binary: typeof s === 'string' && /[KMGTPE]i$/.test(s.trim()) };
}

/** CPU as kubectl prints it: `0`, `250m`, `2`. */
export function formatCpu(cores: number): string {
  const milli = Math.round(cores * 1000);
  if (milli === 0) return '0';
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
}

/** A size with the largest suffix that divides it exactly (`192Mi`, `1G`, `0`). */
export function formatSize(bytes: number, binary: boolean): string {
  const v = Math.round(bytes);
  if (v === 0) return '0';
  const table = binary
    ? [['Ei', BINARY.Ei!], ['Pi', BINARY.Pi!], ['Ti', BINARY.Ti!], ['Gi', BINARY.Gi!], ['Mi', BINARY.Mi!], ['Ki', BINARY.Ki!]] as const
    : [['E', 1e18], ['P', 1e15], ['T', 1e12], ['G', 1e9], ['M', 1e6], ['k', 1e3]] as const;
  for (const [suffix, unit] of table) if (v % unit === 0) return `${v / unit}${suffix}`;
  return String(v);
}
