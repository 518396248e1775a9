/**
 * A small seeded pseudo-random number generator (mulberry32) and the helpers built on it, so that
 * shuffling, sampling and data generation are reproducible from one integer seed.
 */

/** A function returning uniform floats in [0, 1), deterministic for a given seed. */
export type Random = () => number;

/**
 * mulberry32: a 32-bit PRNG with a 2^32 period, plenty for shuffling and sampling datasets.
 * The same seed always yields the same sequence.
 */
export function mulberry32(seed: number): Random {
  if (!Number.isFinite(seed)) throw new Error(`mulberry32: seed must be a finite number, got ${seed}`);
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A uniform integer in [0, n) drawn from `random`. */
export function randomInt(random: Random, n: number): number {
  return Math.floor(random() * n);
}

/** Returns a shuffled copy of `items` (Fisher–Yates), deterministic for a given `random`. */
export function shuffled<T>(items: readonly T[], random: Random): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(random, i + 1);
    const tmp = out[i]!;
    out[i] = out[j]!;
    out[j] = tmp;
  }
  return out;
}

/** The multipliers of {@link hash32} (exported for the SIMD code that computes the same hash). */
export const HASH32_MULTIPLIERS = [0x7feb352d, 0x846ca68b] as const;

/**
 * A 32-bit integer hash with full avalanche (Chris Wellons' "lowbias32": xor-shift 16, multiply,
 * xor-shift 15, multiply, xor-shift 16): a bijection of [0, 2³²), returned unsigned.
 */
export function hash32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, HASH32_MULTIPLIERS[0]);
  x ^= x >>> 15;
  x = Math.imul(x, HASH32_MULTIPLIERS[1]);
  x ^= x >>> 16;
  return x >>> 0;
}
