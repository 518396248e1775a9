/**
 * Low-resource subsets: k examples per class, or n examples in total with the class proportions
 * kept (stratified), drawn deterministically from a seed.
 */
import type { Example } from "../types.ts";
import { mulberry32, shuffled } from "../random.ts";

/** Options of {@link sampleLowResource}: give exactly one of `perClass` and `total`. */
export interface LowResourceOptions {
  /** Examples to take from every class (few-shot "k per class"). */
  perClass?: number;
  /** Examples to take in total, split over classes in proportion to their frequency. */
  total?: number;
  /** Seed of the draw; the same seed gives the same subset. */
  seed: number;
}

/**
 * Draws a stratified low-resource subset of `examples`, returned in their original order.
 * With `total`, class quotas are ⌊n·share⌋ plus one for the classes with the largest remainders
 * (ties to the smaller class id). Regression data (non-integer labels) is sampled uniformly and
 * only accepts `total`. Asking for more than a class (or the set) holds is an error.
 */
export function sampleLowResource(examples: readonly Example[], options: LowResourceOptions): Example[] {
  const { perClass, total, seed } = options;
  if ((perClass === undefined) === (total === undefined)) {
    throw new Error(`sampleLowResource: give exactly one of perClass and total (got perClass=${perClass}, total=${total})`);
  }
  const amount = (perClass ?? total)!;
  if (!Number.isInteger(amount) || amount < 0) {
    throw new Error(`sampleLowResource: ${perClass !== undefined ? "perClass" : "total"} must be a non-negative integer, got ${amount}`);
  }
  const random = mulberry32(seed);
  const regression = examples.some((e) => !Number.isInteger(e.label));
  if (regression) {
    if (perClass !== undefined) throw new Error("sampleLowResource: perClass needs class labels, but these labels are real-valued; use total");
    if (amount > examples.length) throw new Error(`sampleLowResource: total ${amount} is more than the ${examples.length} examples`);
    return pickInOrder(examples, shuffled(examples.map((_, i) => i), random).slice(0, amount));
  }
  const byClass = new Map<number, number[]>();
  examples.forEach((e, i) => {
    const list = byClass.get(e.label) ?? [];
    list.push(i);
    byClass.set(e.label, list);
  });
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  const quotas = perClass !== undefined ? classes.map(() => perClass) : proportionalQuotas(classes.map((c) => byClass.get(c)!.length), amount);
  const chosen: number[] = [];
  classes.forEach((c, k) => {
    const members = byClass.get(c)!;
    if (quotas[k]! > members.length) {
      throw new Error(`sampleLowResource: class ${c} has only ${members.length} examples, fewer than the ${quotas[k]} asked for`);
    }
    chosen.push(...shuffled(members, random).slice(0, quotas[k]));
  });
  return pickInOrder(examples, chosen);
}

/** Largest-remainder split of `total` over classes with the given sizes. */
function proportionalQuotas(sizes: readonly number[], total: number): number[] {
  const n = sizes.reduce((a, b) => a + b, 0);
  if (total > n) throw new Error(`sampleLowResource: total ${total} is more than the ${n} examples`);
  const exact = sizes.map((s) => (total * s) / n);
  const quotas = exact.map(Math.floor);
  let left = total - quotas.reduce((a, b) => a + b, 0);
  const byRemainder = exact.map((e, k) => [e - Math.floor(e), k] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, k] of byRemainder) {
    if (left === 0) break;
    quotas[k]!++;
    left--;
  }
  return quotas;
}

/** The examples at `indices`, in their original order. */
function pickInOrder(examples: readonly Example[], indices: number[]): Example[] {
  return indices.sort((a, b) => a - b).map((i) => examples[i]!);
}
