/**
 * Which parameters FSAM's Fisher mask applies to. Parameters outside the mask ("not maskable") take
 * no part in the Fisher top-k and keep their full SAM perturbation.
 */
import type * as tf from "@tensorflow/tfjs";
import { hfName } from "../names.ts";

/**
 * The rule that decides which variables are maskable:
 * - `"authors"` (default): the rule of the authors' released code (FSAM4PLM, `SAM_Mask.init_mask`):
 *   a parameter whose name contains the substring `bias` or `embed` is not maskable (their
 *   BatchNorm exclusion has no BERT counterpart). Applied to the Hugging Face name (the part of the
 *   tfjs name after the last `/`), case-sensitively as Python's `in`. On HF BERT it excludes
 *   every `bert.embeddings.*` parameter (`word_embeddings`, `position_embeddings`,
 *   `token_type_embeddings` and the embeddings' `LayerNorm.weight` / `LayerNorm.bias`) and every
 *   `*.bias` (attention, FFN, every `LayerNorm.bias`, pooler, classifier). Still maskable: every
 *   other `*.weight`, including the encoder layers' `LayerNorm.weight`, the pooler's and the
 *   classifier's weight.
 * - `"all"`: every variable is maskable (the paper's equation read literally).
 * - a predicate `(v) => boolean`: true for maskable variables.
 */
export type MaskableRule = "authors" | "all" | ((v: tf.Variable) => boolean);

/** The name of a rule as it appears in settings and result files (`custom` for a predicate). */
export type MaskableRuleName = "authors" | "all" | "custom";

/** The authors' rule on one variable: false when its HF name contains `bias` or `embed`. */
export function authorsMaskable(v: Pick<tf.Variable, "name">): boolean {
  const name = hfName(v.name);
  return !name.includes("bias") && !name.includes("embed");
}

/** The predicate of a rule; throws on anything that is not a rule, naming `owner`. */
export function maskablePredicate(rule: MaskableRule, owner = "FisherSAM"): (v: tf.Variable) => boolean {
  if (rule === "authors") return authorsMaskable;
  if (rule === "all") return () => true;
  if (typeof rule === "function") return rule;
  throw new Error(
    `${owner}: option maskable must be "authors", "all" or a function (v: tf.Variable) => boolean, got ${String(rule)}`,
  );
}

/** The name of a rule (`custom` for a predicate). */
export function maskableRuleName(rule: MaskableRule): MaskableRuleName {
  return typeof rule === "function" ? "custom" : rule;
}
