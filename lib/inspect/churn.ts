/**
 * Mask churn: how much FSAM's Fisher mask changes from one refresh to the next, as the Jaccard
 * overlap |A ∩ B| / |A ∪ B| of consecutive masks, globally and per block, recorded as a time series
 * during training by a {@link MaskChurnRecorder} attached with `fsam.onMaskRefresh`.
 */
import type * as dfd from "danfojs-node";
import { newDataFrame } from "../danfo.ts";
import { groupByBlock } from "./blocks.ts";

/** Intersection and union sizes of two masks over the given variable names. */
function intersectUnion(a: Map<string, Uint8Array>, b: Map<string, Uint8Array>, names: readonly string[]): { inter: number; union: number } {
  let inter = 0;
  let union = 0;
  for (const name of names) {
    const x = a.get(name);
    const y = b.get(name);
    if (!x || !y) throw new Error(`mask churn: variable ${name} is missing from ${x ? "the second" : "the first"} mask`);
    if (x.length !== y.length) throw new Error(`mask churn: variable ${name} has ${x.length} and ${y.length} entries`);
    for (let i = 0; i < x.length; i++) {
      inter += x[i] & y[i];
      union += x[i] | y[i];
    }
  }
  return { inter, union };
}

/**
 * Jaccard overlap |A ∩ B| / |A ∪ B| of two masks over `names` (default: every variable of `a`);
 * 1 when both are empty.
 */
export function maskJaccard(a: Map<string, Uint8Array>, b: Map<string, Uint8Array>, names?: readonly string[]): number {
  const { inter, union } = intersectUnion(a, b, names ?? [...a.keys()]);
  return union === 0 ? 1 : inter / union;
}

/** One point of the churn time series. */
export interface ChurnRow {
  /** The step of the newer mask. */
  step: number;
  /** The step of the previous mask. */
  previousStep: number;
  /** `global` or a block id. */
  block: string;
  /** Jaccard overlap of the previous and the new mask in this block. */
  jaccard: number;
  /** Parameters kept by the new mask in this block. */
  kept: number;
  /** Parameters in this block. */
  size: number;
}

/** Something that announces mask refreshes, e.g. a `FisherSAM`. */
export interface MaskRefreshEmitter {
  /** Registers a listener; returns the function that unsubscribes it. */
  onMaskRefresh(cb: (e: { step: number; masks: Map<string, Uint8Array> }) => void): () => void;
}

/** Records the churn of consecutive masks, globally and per block. */
export class MaskChurnRecorder {
  /** The recorded rows, oldest first (one `global` row and one per block per refresh after the first). */
  readonly rows: ChurnRow[] = [];
  private previous: { step: number; masks: Map<string, Uint8Array> } | undefined;
  private readonly granularity: "component" | "layer";

  /** @param options `granularity`: `component` (default: attention/FFN/LayerNorm per layer) or `layer`. */
  constructor(options: { granularity?: "component" | "layer" } = {}) {
    this.granularity = options.granularity ?? "component";
  }

  /** Records every refresh of `source` (e.g. `recorder.attach(fsam)`); returns the unsubscribe function. */
  attach(source: MaskRefreshEmitter): () => void {
    return source.onMaskRefresh((e) => this.record(e.step, e.masks));
  }

  /** Records a mask (copied); from the second call on, appends its churn against the previous one. */
  record(step: number, masks: Map<string, Uint8Array>): void {
    const copy = new Map([...masks].map(([name, m]) => [name, m.slice()]));
    const prev = this.previous;
    this.previous = { step, masks: copy };
    if (!prev) return;
    const names = [...copy.keys()];
    const kept = (list: readonly string[]) => list.reduce((s, n) => s + copy.get(n)!.reduce((a, x) => a + x, 0), 0);
    const size = (list: readonly string[]) => list.reduce((s, n) => s + copy.get(n)!.length, 0);
    const push = (block: string, list: readonly string[]) =>
      this.rows.push({ step, previousStep: prev.step, block, jaccard: maskJaccard(prev.masks, copy, list), kept: kept(list), size: size(list) });
    push("global", names);
    for (const [block, list] of groupByBlock(names, { granularity: this.granularity })) push(block, list);
  }

  /** The rows as a DataFrame (columns step, previousStep, block, jaccard, kept, size). */
  toDataFrame(): dfd.DataFrame {
    if (this.rows.length === 0) return newDataFrame([], { columns: ["step", "previousStep", "block", "jaccard", "kept", "size"] });
    return newDataFrame(this.rows as unknown as Record<string, unknown>[]);
  }

  /** Forgets every row and the previous mask. */
  reset(): void {
    this.rows.length = 0;
    this.previous = undefined;
  }
}
