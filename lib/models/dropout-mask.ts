/**
 * The dropout multiplier of `tf.dropout(x, rate, undefined, seed)` computed in one tight loop.
 * tfjs draws the uniform noise through `tf.randomUniform`, which calls its seeded Alea generator
 * (Baagøe's algorithm, as in the seedrandom package) once per element through two closures and a
 * class method and then runs `add`, `floor` and `div` kernels over it: on wasm this is ~10 % of a
 * BERT training step (4.7 M draws for bert-tiny at batch 32 × 128). The same generator with its
 * state in local variables draws the same numbers several times faster, and the multiplier
 * `floor(u + keep) / keep` is evaluated with tfjs's float32 roundings, so {@link dropoutMultiplier}
 * gives the exact values tfjs's dropout multiplies by (tested against `tf.dropout`).
 */

/** Baagøe's Mash hash as Alea's seeding uses it: a running state `n` hashed over a string's characters. */
function mashState(): (data: string) => number {
  let n = 0xefc8249d;
  return (data) => {
    for (let i = 0; i < data.length; i++) {
      n += data.charCodeAt(i);
      let h = 0.02519603282416938 * n;
      n = h >>> 0;
      h -= n;
      h *= n;
      n = h >>> 0;
      h -= n;
      n += h * 0x100000000;
    }
    return (n >>> 0) * 2.3283064365386963e-10;
  };
}

/**
 * `size` values of the dropout multiplier for `rate` in (0, 1) and an integer seed: 0 for dropped
 * elements, float32(1 / float32(1 − rate)) for kept ones, drawn exactly as `tf.dropout` draws them.
 */
export function dropoutMultiplier(size: number, rate: number, seed: number): Float32Array {
  if (!(rate > 0 && rate < 1)) throw new Error(`dropout rate must be in (0, 1), got ${rate}`);
  const mash = mashState();
  const text = String(seed);
  let s0 = mash(" ");
  let s1 = mash(" ");
  let s2 = mash(" ");
  let c = 1;
  s0 -= mash(text);
  if (s0 < 0) s0 += 1;
  s1 -= mash(text);
  if (s1 < 0) s1 += 1;
  s2 -= mash(text);
  if (s2 < 0) s2 += 1;
  const keep = Math.fround(1 - rate);
  const scale = Math.fround(1 / keep);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const t = 2091639 * s0 + c * 2.3283064365386963e-10;
    s0 = s1;
    s1 = s2;
    c = t | 0;
    s2 = t - c;
    // tfjs: the draw stored as float32, add(·, keep) in float32, floor, div by keep in float32.
    if (Math.fround(Math.fround(s2) + keep) >= 1) out[i] = scale;
  }
  return out;
}
