/**
 * Counter-based random numbers for the inspection tools: Philox4x32-10 (Salmon et al., "Parallel
 * random numbers: as easy as 1, 2, 3", SC 2011), keyed by a 64-bit key derived from a seed with
 * SplitMix64. The value at position i of stream s under seed k is a pure function of (k, s, i), so
 * every random vector (probe, direction, start vector) is reproducible on its own and vectors of
 * different streams or seeds are independent by construction — unlike seeding one generator per
 * vector with nearby 32-bit seeds, whose outputs can be correlated.
 *
 * Values are generated on the host (float32 arrays) and uploaded by the callers; the same seed gives
 * the same numbers on every backend.
 */

const MASK64 = (1n << 64n) - 1n;

/** SplitMix64's output function of one 64-bit state (Steele, Lea & Flood 2014). */
function splitMix64(state: bigint): bigint {
  let z = (state + 0x9e3779b97f4a7c15n) & MASK64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

/** A seed as an unsigned 64-bit integer; throws on a non-integer or out-of-range seed. */
function seedBits(seed: number, what: string): bigint {
  if (!Number.isSafeInteger(seed)) throw new Error(`${what} must be a safe integer, got ${seed}`);
  return BigInt.asUintN(64, BigInt(seed));
}

/**
 * A well-mixed seed for sub-stream `counters` of `seed`: SplitMix64 applied to the seed and then to
 * each counter in turn. Different seeds or counters give unrelated results (every input bit
 * changes about half the output bits). The result is an integer in [0, 2^53), so it is itself a valid
 * seed for {@link streamKey} and the vector functions.
 */
export function mixSeed(seed: number, ...counters: number[]): number {
  let h = splitMix64(seedBits(seed, "seed"));
  for (const c of counters) h = splitMix64(h ^ splitMix64(seedBits(c, "counter") ^ 0x243f6a8885a308d3n));
  return Number(h >> 11n);
}

/** A Philox key: two 32-bit words. */
export type PhiloxKey = readonly [number, number];

/** The Philox key of a seed (its SplitMix64 hash split into two 32-bit words). */
export function streamKey(seed: number): PhiloxKey {
  const h = splitMix64(seedBits(seed, "seed") ^ 0x13198a2e03707344n);
  return [Number(h & 0xffffffffn), Number(h >> 32n)];
}

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two unsigned 32-bit integers (exact in doubles). */
function mulHi(a: number, b: number): number {
  const t = a * (b & 0xffff); // < 2^48, exact
  const u = a * (b >>> 16) + Math.floor(t / 65536); // < 2^49, exact
  return Math.floor(u / 65536) >>> 0;
}

/**
 * Philox4x32-10: the four 32-bit outputs for the 128-bit counter `ctr` (four words) under `key`.
 * Writes them to `out` (unsigned 32-bit integers).
 */
export function philox4x32(ctr: readonly number[], key: PhiloxKey, out: Uint32Array = new Uint32Array(4)): Uint32Array {
  let c0 = ctr[0] >>> 0;
  let c1 = ctr[1] >>> 0;
  let c2 = ctr[2] >>> 0;
  let c3 = ctr[3] >>> 0;
  let k0 = key[0] >>> 0;
  let k1 = key[1] >>> 0;
  for (let round = 0; round < 10; round++) {
    const hi0 = mulHi(M0, c0);
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulHi(M1, c2);
    const lo1 = Math.imul(M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
  return out;
}

/**
 * `n` raw 32-bit words of stream `stream` under `seed`: word i is output i % 4 of Philox at counter
 * (⌊i/4⌋, 0, stream, 0). Integers ≥ 0 below 2^32 for `stream`.
 */
function words(n: number, seed: number, stream: number, visit: (word: number, i: number) => void): void {
  if (!Number.isInteger(stream) || stream < 0 || stream > 0xffffffff) {
    throw new Error(`stream must be an integer in [0, 2^32), got ${stream}`);
  }
  const key = streamKey(seed);
  const block = new Uint32Array(4);
  const ctr = [0, 0, stream, 0];
  for (let base = 0; base < n; base += 4) {
    ctr[0] = (base / 4) % 4294967296;
    ctr[1] = Math.floor(base / 4 / 4294967296);
    philox4x32(ctr, key, block);
    for (let j = 0; j < 4 && base + j < n; j++) visit(block[j], base + j);
  }
}

/** `n` uniform numbers in (0, 1) (32-bit resolution, never 0 or 1) from stream `stream` of `seed`. */
export function uniformArray(n: number, seed: number, stream = 0): Float32Array {
  const out = new Float32Array(n);
  words(n, seed, stream, (w, i) => {
    out[i] = (w + 0.5) / 4294967296;
  });
  return out;
}

/** `n` standard normal numbers (Box–Muller on pairs of uniforms) from stream `stream` of `seed`. */
export function gaussianArray(n: number, seed: number, stream = 0): Float32Array {
  const out = new Float32Array(n);
  const pairs = new Float64Array(2 * Math.ceil(n / 2));
  words(pairs.length, seed, stream, (w, i) => {
    pairs[i] = (w + 0.5) / 4294967296;
  });
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(pairs[i]));
    const phi = 2 * Math.PI * pairs[i + 1];
    out[i] = r * Math.cos(phi);
    if (i + 1 < n) out[i + 1] = r * Math.sin(phi);
  }
  return out;
}

/** `n` Rademacher numbers (±1 with probability ½ each, the top bit of each word) from stream `stream` of `seed`. */
export function rademacherArray(n: number, seed: number, stream = 0): Float32Array {
  const out = new Float32Array(n);
  words(n, seed, stream, (w, i) => {
    out[i] = w >= 0x80000000 ? 1 : -1;
  });
  return out;
}
