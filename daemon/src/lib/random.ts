import { randomBytes, randomUUID } from 'node:crypto';

/** Randomness is injected so tests can make names and jitter deterministic. */
export interface Random {
  /** A float in [0, 1). */
  float(): number;
  uuid(): string;
  /** n characters of [bcdfghjklmnpqrstvwxz2456789], like Kubernetes' generated name suffixes. */
  suffix(n: number): string;
}

const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

export function createRandom(): Random {
  return {
    float: () => Math.random(),
    uuid: () => randomUUID(),
    suffix(n) {
      const bytes = randomBytes(n);
      let s = '';
      for (const b of bytes) s += ALPHABET[b % ALPHABET.length];
      return s;
    },
  };
}

/** Deterministic Random for tests (mulberry32). */
export function createSeededRandom(seed = 1): Random {
  let a = seed >>> 0;
  const float = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let counter = 0;
  return {
    float,
    uuid() {
      counter++;
      const hex = counter.toString(16).padStart(12, '0');
      return `00000000-0000-4000-8000-${hex}`;
    },
    suffix(n) {
      let s = '';
      for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(float() * ALPHABET.length)];
      return s;
    },
  };
}
