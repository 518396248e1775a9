/**
 * Mask-criterion comparison: would another importance score pick the same parameters as the Fisher
 * information? At the same sparsity (one global top-k each, lib/optim's `topKMask`), the overlap of
 * the Fisher mask with the masks from |w| (magnitude), |∇L| (gradient), uniform random scores and the
 * Hutchinson estimate of |diag H| (Hessian diagonal), per block and globally.
 */
import * as tf from "@tensorflow/tfjs";
import type * as dfd from "danfojs-node";
import { newDataFrame } from "../danfo.ts";
import { computeFisherAsync } from "../optim/fisher.ts";
import { topKMask } from "../optim/topk.ts";
import { groupByBlock } from "./blocks.ts";
import { gradients } from "./hvp.ts";
import { hessianDiagonal } from "./hessian.ts";
import type { HvpOptions } from "./hvp.ts";
import { deriveSeed, resolveSeed } from "./param-vector.ts";
import { uniformArray } from "../counter-random.ts";
import type { LongRunOptions } from "./progress.ts";

/** A parameter-importance criterion. */
export type MaskCriterion = "fisher" | "magnitude" | "gradient" | "random" | "hessian";

/** One row of the overlap table. */
export interface OverlapRow {
  /** The criterion compared with the reference (Fisher) mask. */
  criterion: string;
  /** `global` or a block id. */
  block: string;
  /** Parameters in the block. */
  size: number;
  /** Parameters the reference mask keeps in the block. */
  keptReference: number;
  /** Parameters the criterion's mask keeps in the block. */
  keptCriterion: number;
  /** |R ∩ C| / |R|: the fraction of the reference's kept parameters the criterion also keeps (NaN if R is empty). */
  overlap: number;
  /** |R ∩ C| / |R ∪ C| (1 when both are empty). */
  jaccard: number;
}

/**
 * Overlap of mask `other` with mask `reference`, globally and per block (pure; masks keyed by
 * variable name). Rows: `global` first, then blocks in model order.
 */
export function maskOverlapByBlock(
  reference: Map<string, Uint8Array>,
  other: Map<string, Uint8Array>,
  options: { criterion?: string; granularity?: "component" | "layer" } = {},
): OverlapRow[] {
  const criterion = options.criterion ?? "other";
  const names = [...reference.keys()];
  const row = (block: string, list: readonly string[]): OverlapRow => {
    let size = 0, kr = 0, kc = 0, inter = 0, union = 0;
    for (const name of list) {
      const r = reference.get(name)!;
      const c = other.get(name);
      if (!c) throw new Error(`maskOverlapByBlock: variable ${name} is missing from the ${criterion} mask`);
      if (c.length !== r.length) throw new Error(`maskOverlapByBlock: variable ${name} has ${r.length} and ${c.length} entries`);
      size += r.length;
      for (let i = 0; i < r.length; i++) {
        kr += r[i];
        kc += c[i];
        inter += r[i] & c[i];
        union += r[i] | c[i];
      }
    }
    return { criterion, block, size, keptReference: kr, keptCriterion: kc, overlap: kr === 0 ? NaN : inter / kr, jaccard: union === 0 ? 1 : inter / union };
  };
  return [row("global", names), ...[...groupByBlock(names, { granularity: options.granularity })].map(([b, list]) => row(b, list))];
}

/** Options of {@link compareMaskCriteria}. */
export interface CriteriaOptions extends LongRunOptions, Pick<HvpOptions, "method" | "fdStep"> {
  /** Fraction NOT kept (FSAM's sparsity; default 0.9). */
  sparsity?: number;
  /** Criteria to compare with the Fisher mask (default all four others). */
  criteria?: Exclude<MaskCriterion, "fisher">[];
  /** Precomputed Fisher scores per variable name (e.g. `fsam.fisher`); else computed from `fisherLoss`. */
  fisher?: Map<string, Float32Array>;
  /** Per-sample loss for the Fisher (FisherSAM's `fisherLoss`), when `fisher` is not given. */
  fisherLoss?: (i: number) => tf.Scalar;
  /** Calls of `fisherLoss` (default 32). */
  fisherSamples?: number;
  /** Loss at the current weights, for the `gradient` and `hessian` criteria. */
  loss?: () => tf.Scalar;
  /** Hutchinson samples for the Hessian diagonal (default 20). */
  hessianSamples?: number;
  /** Seed of the random criterion and the Hutchinson vectors. */
  seed?: number;
  /** Block granularity (default `component`). */
  granularity?: "component" | "layer";
}

/** The comparison: every criterion's mask, the overlap rows and their DataFrame. */
export interface CriteriaComparison {
  /** The masks per criterion (including `fisher`), per variable name. */
  masks: Map<MaskCriterion, Map<string, Uint8Array>>;
  /** Overlap rows of every criterion with the Fisher mask. */
  rows: OverlapRow[];
  /** The rows as a DataFrame. */
  table: dfd.DataFrame;
}

/** Scores of one criterion per variable name. */
async function criterionScores(
  criterion: Exclude<MaskCriterion, "fisher">,
  vars: readonly tf.Variable[],
  options: CriteriaOptions,
  seed: number,
): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  switch (criterion) {
    case "magnitude":
      for (const v of vars) out.set(v.name, ((await v.data()) as Float32Array).map(Math.abs));
      return out;
    case "random":
      vars.forEach((v, i) => out.set(v.name, uniformArray(v.size, seed, i)));
      return out;
    case "gradient": {
      if (!options.loss) throw new Error('compareMaskCriteria: criterion "gradient" needs option loss');
      const g = gradients(options.loss, vars);
      const data = await Promise.all(g.map((t) => t.data() as Promise<Float32Array>));
      vars.forEach((v, i) => out.set(v.name, data[i].map(Math.abs)));
      tf.dispose(g);
      return out;
    }
    case "hessian": {
      if (!options.loss) throw new Error('compareMaskCriteria: criterion "hessian" needs option loss');
      const diag = await hessianDiagonal(options.loss, vars, { ...options, samples: options.hessianSamples ?? 20, seed: deriveSeed(seed, 77) });
      for (const [name, d] of diag) out.set(name, d.map(Math.abs));
      return out;
    }
    default:
      throw new Error(`compareMaskCriteria: unknown criterion ${JSON.stringify(criterion)}; use magnitude, gradient, random or hessian`);
  }
}

/**
 * Compares the Fisher mask with masks from other criteria at the same sparsity (one global top-k per
 * criterion over `vars`), per block.
 */
export async function compareMaskCriteria(vars: tf.Variable[], options: CriteriaOptions = {}): Promise<CriteriaComparison> {
  const sparsity = options.sparsity ?? 0.9;
  if (!(sparsity >= 0 && sparsity <= 1)) throw new Error(`compareMaskCriteria: option sparsity must be in [0, 1], got ${sparsity}`);
  const seed = resolveSeed(options.seed);
  let fisher = options.fisher;
  if (!fisher) {
    if (!options.fisherLoss) throw new Error("compareMaskCriteria: pass option fisher (e.g. fsam.fisher) or fisherLoss");
    fisher = await computeFisherAsync(options.fisherLoss, vars, options.fisherSamples ?? 32);
  }
  const fisherScores = new Map(vars.map((v) => {
    const f = fisher!.get(v.name);
    if (!f) throw new Error(`compareMaskCriteria: option fisher has no scores for ${v.name}`);
    return [v.name, f] as const;
  }));
  const keep = 1 - sparsity;
  const masks = new Map<MaskCriterion, Map<string, Uint8Array>>([["fisher", topKMask(fisherScores, keep).masks]]);
  const rows: OverlapRow[] = [];
  for (const criterion of options.criteria ?? ["magnitude", "gradient", "random", "hessian"]) {
    const scores = await criterionScores(criterion, vars, options, seed);
    const mask = topKMask(scores, keep).masks;
    masks.set(criterion, mask);
    rows.push(...maskOverlapByBlock(masks.get("fisher")!, mask, { criterion, granularity: options.granularity }));
  }
  return { masks, rows, table: newDataFrame(rows as unknown as Record<string, unknown>[]) };
}
