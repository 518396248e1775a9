/**
 * SAM sharpness: the loss increase L(w + e) − L(w) under the SAM (or ASAM, or masked FSAM)
 * perturbation e at radius ρ, globally and perturbing one block at a time.
 */
import * as tf from "@tensorflow/tfjs";
import type * as dfd from "danfojs-node";
import { newDataFrame } from "../danfo.ts";
import { groupByBlock } from "./blocks.ts";
import { directionNorm, directionTensors, samDirection, type SamDirectionOptions } from "./directions.ts";
import { assignAll, assignOffset, disposeVector, snapshot } from "./param-vector.ts";

/** Options of {@link samSharpness}. */
export interface SamSharpnessOptions extends Omit<SamDirectionOptions, "block" | "label"> {
  /** Also perturb one block at a time (default true). */
  perBlock?: boolean;
  /**
   * Per-block perturbation: `renormalised` (default) is the block's own SAM perturbation at full
   * radius ρ (the gradient norm taken over the block); `restricted` keeps only the block's part of
   * the global perturbation.
   */
  blockPerturbation?: "renormalised" | "restricted";
  /** Block granularity (default `component`). */
  granularity?: "component" | "layer";
}

/** One block's SAM sharpness. */
export interface BlockSamSharpness {
  /** Block id. */
  block: string;
  /** Parameters in the block. */
  size: number;
  /** L(w + e_B) − L(w). */
  sharpness: number;
  /** ‖e_B‖. */
  perturbationNorm: number;
}

/** The result of {@link samSharpness}. */
export interface SamSharpnessResult {
  /** L(w). */
  loss: number;
  /** L(w + e). */
  perturbedLoss: number;
  /** L(w + e) − L(w). */
  sharpness: number;
  /** ‖e‖ (ρ for SAM; less for a masked FSAM perturbation). */
  perturbationNorm: number;
  /** Per-block rows (empty when `perBlock` is false). */
  blocks: BlockSamSharpness[];
  /** The per-block rows as a DataFrame. */
  table: dfd.DataFrame;
}

/** The loss value at the current weights, read with `await data()`. */
async function lossValue(loss: () => tf.Scalar): Promise<number> {
  const value = tf.tidy(loss);
  try {
    return (await value.data())[0];
  } finally {
    value.dispose();
  }
}

/**
 * SAM sharpness L(w + e) − L(w) with e the SAM perturbation (ASAM with `adaptive`, FSAM with `mask`,
 * e.g. `fsam.maskData`), globally and per block. The variables are restored afterwards. Reads with
 * `await data()`, so it works on every backend (webgpu included).
 */
export async function samSharpness(loss: () => tf.Scalar, vars: tf.Variable[], options: SamSharpnessOptions = {}): Promise<SamSharpnessResult> {
  const mode = options.blockPerturbation ?? "renormalised";
  if (mode !== "renormalised" && mode !== "restricted") {
    throw new Error(`option blockPerturbation must be "renormalised" or "restricted", got ${JSON.stringify(mode)}`);
  }
  const base = snapshot(vars);
  const perturbed = async (dirVars: tf.Variable[], block?: string) => {
    const d = await samDirection(loss, dirVars, { ...options, block });
    const t = directionTensors(d, vars);
    try {
      assignOffset(vars, base, [t], [1]);
      return { value: await lossValue(loss), norm: directionNorm(d) };
    } finally {
      assignAll(vars, base);
      disposeVector(t);
    }
  };
  try {
    const l0 = await lossValue(loss);
    const global = await perturbed(vars);
    const blocks: BlockSamSharpness[] = [];
    if (options.perBlock ?? true) {
      for (const [block, names] of groupByBlock(vars.map((v) => v.name), { granularity: options.granularity })) {
        const blockVars = vars.filter((v) => names.includes(v.name));
        const r = mode === "renormalised" ? await perturbed(blockVars) : await perturbed(vars, block);
        blocks.push({ block, size: blockVars.reduce((s, v) => s + v.size, 0), sharpness: r.value - l0, perturbationNorm: r.norm });
      }
    }
    return {
      loss: l0,
      perturbedLoss: global.value,
      sharpness: global.value - l0,
      perturbationNorm: global.norm,
      blocks,
      table: newDataFrame(blocks.length ? (blocks as unknown as Record<string, unknown>[]) : [], blocks.length ? undefined : { columns: ["block", "size", "sharpness", "perturbationNorm"] }),
    };
  } finally {
    disposeVector(base);
  }
}
