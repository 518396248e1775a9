/**
 * Figures of per-block sharpness: the top Hessian eigenvalue and the Hessian trace of each block
 * (lib/inspect/hessian.ts `sharpnessByBlock`), or the per-block SAM sharpness
 * (lib/inspect/sam-sharpness.ts), several models side by side.
 */
import type { BlockSharpnessRow } from "../inspect/hessian.ts";
import type { BlockSamSharpness } from "../inspect/sam-sharpness.ts";
import { axis, colorAt, title } from "./style.ts";
import { type Figure } from "./figure.ts";

/** Which per-block quantity to plot. */
export type SharpnessQuantity = "topEigenvalue" | "trace" | "tracePerParameter" | "samSharpness";

const Y_TITLES: Record<SharpnessQuantity, string> = {
  topEigenvalue: "top Hessian eigenvalue λ₁ (loss units per squared weight unit)",
  trace: "Hessian trace (Hutchinson)",
  tracePerParameter: "Hessian trace / parameters",
  samSharpness: "L(w + e) − L(w) (loss units)",
};

/**
 * Grouped bars of a per-block sharpness quantity, one bar group per block and one colour per model
 * (e.g. `[{name: "Adam", rows}, {name: "FSAM", rows}]`); `logScale` for eigenvalues spanning decades.
 */
export function sharpnessBars(
  models: readonly { name: string; rows: readonly (BlockSharpnessRow | BlockSamSharpness)[] }[],
  options: { quantity?: SharpnessQuantity; logScale?: boolean; title?: string } = {},
): Figure {
  const quantity = options.quantity ?? "topEigenvalue";
  const value = (r: BlockSharpnessRow | BlockSamSharpness): number | null => {
    const v = quantity === "samSharpness" ? (r as BlockSamSharpness).sharpness : (r as BlockSharpnessRow)[quantity];
    return typeof v === "number" && Number.isFinite(v) ? v : null;
  };
  const blocks = [...new Set(models.flatMap((m) => m.rows.map((r) => r.block)))];
  return {
    data: models.map((m, i) => ({
      type: "bar",
      name: m.name,
      x: blocks,
      y: blocks.map((b) => {
        const r = m.rows.find((x) => x.block === b);
        return r ? value(r) : null;
      }),
      marker: { color: colorAt(i) },
    })),
    layout: {
      title: title(options.title ?? `Per-block sharpness: ${quantity}`),
      barmode: "group",
      xaxis: axis("block"),
      yaxis: axis(Y_TITLES[quantity], options.logScale ? { type: "log" } : {}),
    },
  };
}
