/**
 * Groups model variables into blocks from their Hugging Face parameter names: the embeddings, each
 * transformer layer's attention (self query/key/value + output dense), its feed-forward network
 * (intermediate + output dense), its LayerNorms, the pooler, the classifier head, and "other".
 *
 * Works for BERT-style names (`bert.encoder.layer.3.attention.self.query.weight`) and, more loosely,
 * for any name containing `layer.<i>.` / `layers.<i>.`; a tfjs `scope/` prefix is ignored (names.ts).
 */
import { hfName } from "../names.ts";

/** The kind of block a variable belongs to. */
export type BlockGroup = "embeddings" | "attention" | "ffn" | "layernorm" | "pooler" | "classifier" | "other";

/** Where one variable sits in the model. */
export interface BlockInfo {
  /**
   * Block id: `embeddings`, `layer.<i>.attention`, `layer.<i>.ffn`, `layer.<i>.layernorm`, `pooler`,
   * `classifier` or `other`.
   */
  block: string;
  /** The block's kind. */
  group: BlockGroup;
  /** Transformer layer index, or null outside the encoder layers. */
  layer: number | null;
  /**
   * Finer component inside the block, used as the heatmap column: `query`, `key`, `value`,
   * `attention.output`, `intermediate`, `output`, `attention.LayerNorm`, `output.LayerNorm` inside a
   * layer; `word`, `position`, `token_type`, `LayerNorm` in the embeddings; `dense`/`weight`/... else.
   */
  component: string;
  /** True for biases and LayerNorm/normalisation parameters (excluded from filter normalisation). */
  biasOrNorm: boolean;
}

/** The order in which components appear as heatmap columns. */
export const LAYER_COMPONENTS: readonly string[] = [
  "query",
  "key",
  "value",
  "attention.output",
  "attention.LayerNorm",
  "intermediate",
  "output",
  "output.LayerNorm",
];

const LAYER_RE = /(?:^|\.)(?:layer|layers|h|block|blocks)\.(\d+)\.(.*)$/;

/** True for parameter names of normalisation layers (LayerNorm, layer_norm, ln_*, norm). */
function isNormName(name: string): boolean {
  return /layernorm|layer_norm|(^|\.)ln_?\w*\.|(^|\.)norm\./i.test(name);
}

/** Classifies one variable by its (possibly scoped) tfjs name. */
export function blockOf(variableName: string): BlockInfo {
  const name = hfName(variableName);
  const norm = isNormName(name);
  const biasOrNorm = norm || name.endsWith(".bias") || name === "bias";
  const layerMatch = LAYER_RE.exec(name);
  if (layerMatch && !/(^|\.)embeddings\./.test(name)) {
    const layer = Number(layerMatch[1]);
    const rest = layerMatch[2];
    let component = "other";
    let group: BlockGroup = "other";
    if (/^attention\.self\.(query|key|value)\./.test(rest)) {
      component = /^attention\.self\.(query|key|value)\./.exec(rest)![1];
      group = "attention";
    } else if (/^attention\.output\./.test(rest)) {
      component = norm ? "attention.LayerNorm" : "attention.output";
      group = norm ? "layernorm" : "attention";
    } else if (/^intermediate\./.test(rest)) {
      component = "intermediate";
      group = "ffn";
    } else if (/^output\./.test(rest)) {
      component = norm ? "output.LayerNorm" : "output";
      group = norm ? "layernorm" : "ffn";
    } else if (norm) {
      component = rest.replace(/\.(weight|bias|gamma|beta)$/, "");
      group = "layernorm";
    } else {
      component = rest.replace(/\.(weight|bias|kernel)$/, "");
    }
    const block = group === "other" ? `layer.${layer}.other` : `layer.${layer}.${group}`;
    return { block, group, layer, component, biasOrNorm };
  }
  if (/(^|\.)embeddings\./.test(name)) {
    const m = /embeddings\.(word|position|token_type)_embeddings\./.exec(name);
    const component = m ? m[1] : norm ? "LayerNorm" : name.replace(/^.*embeddings\./, "");
    return { block: "embeddings", group: "embeddings", layer: null, component, biasOrNorm };
  }
  if (/(^|\.)pooler\./.test(name)) {
    return { block: "pooler", group: "pooler", layer: null, component: lastParts(name), biasOrNorm };
  }
  if (/(^|\.)(classifier|score|qa_outputs|cls)\./.test(name)) {
    return { block: "classifier", group: "classifier", layer: null, component: lastParts(name), biasOrNorm };
  }
  return { block: "other", group: "other", layer: null, component: name, biasOrNorm };
}

/** The name without its leading module path, e.g. `dense.weight` for `bert.pooler.dense.weight`. */
function lastParts(name: string): string {
  return name.split(".").slice(-2).join(".");
}

/** Sort key putting blocks in model order: embeddings, layers 0..L-1, pooler, classifier, other. */
export function blockOrder(block: string): number {
  if (block === "embeddings") return 0;
  const m = /^layer\.(\d+)\.(\w+)$/.exec(block);
  if (m) {
    const sub = ["attention", "ffn", "layernorm", "other"].indexOf(m[2]);
    return 1 + Number(m[1]) * 4 + (sub < 0 ? 3 : sub);
  }
  if (block === "pooler") return 1e6;
  if (block === "classifier") return 1e6 + 1;
  return 1e6 + 2;
}

/**
 * Groups variable names by block, in model order. `granularity: "layer"` merges the attention, FFN
 * and LayerNorm blocks of a layer into one block `layer.<i>`.
 */
export function groupByBlock(
  variableNames: readonly string[],
  options: { granularity?: "component" | "layer" } = {},
): Map<string, string[]> {
  const granularity = options.granularity ?? "component";
  if (granularity !== "component" && granularity !== "layer") {
    throw new Error(`groupByBlock: option granularity must be "component" or "layer", got ${JSON.stringify(granularity)}`);
  }
  const groups = new Map<string, string[]>();
  for (const name of variableNames) {
    const info = blockOf(name);
    const key = granularity === "layer" && info.layer !== null ? `layer.${info.layer}` : info.block;
    const list = groups.get(key);
    if (list) list.push(name);
    else groups.set(key, [name]);
  }
  const order = (b: string) => blockOrder(/^layer\.\d+$/.test(b) ? `${b}.attention` : b);
  return new Map([...groups.entries()].sort((a, b) => order(a[0]) - order(b[0])));
}

/** The variables whose block id (or layer id `layer.<i>`, or exact variable name) equals `block`. */
export function selectBlock<T extends { name: string }>(variables: readonly T[], block: string): T[] {
  const out = variables.filter((v) => {
    const info = blockOf(v.name);
    return info.block === block || (info.layer !== null && `layer.${info.layer}` === block) || v.name === block || hfName(v.name) === block;
  });
  if (out.length === 0) {
    const known = [...groupByBlock(variables.map((v) => v.name)).keys()].join(", ");
    throw new Error(`selectBlock: no variable in block ${JSON.stringify(block)}; blocks are: ${known}`);
  }
  return out;
}
