/**
 * The figures the kit exists for: per model, ms per step of ours (webgpu) and PyTorch for Adam,
 * SAM and FSAM, and the ratios SAM/Adam, FSAM/SAM and ours/PyTorch, checked against the issue's
 * targets for bert-base (FSAM within 5× of PyTorch, SAM/Adam ≤ 2.1, FSAM/SAM ≤ 1.10).
 */
import type { StepCell } from "./bench.ts";
import { KIT_OPTIMIZERS } from "./options.ts";

/** The targets of issue 9 for bert-base on the H200. */
export const TARGETS = { fsamOursOverTorch: 5, samOverAdam: 2.1, fsamOverSam: 1.1 } as const;

/** One model's row of the table. */
export interface RatioRow {
  /** Preset name. */
  model: string;
  /** ms per step by optimizer, ours. */
  ours: Record<string, number | null>;
  /** ms per step by optimizer, PyTorch. */
  torch: Record<string, number | null>;
  /** SAM/Adam, FSAM/SAM for ours and PyTorch; ours/PyTorch per optimizer (null where a number is missing). */
  ratios: {
    ours_sam_over_adam: number | null;
    ours_fsam_over_sam: number | null;
    torch_sam_over_adam: number | null;
    torch_fsam_over_sam: number | null;
    ours_over_torch: Record<string, number | null>;
  };
  /** FSAM refresh cost in ms, ours and PyTorch. */
  refresh_ms: { ours: number | null; torch: number | null };
}

/** a/b rounded to 3 decimals, or null when either is missing. */
function ratio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : Math.round((a / b) * 1000) / 1000;
}

/** ms per step of each optimizer of `model` among `cells`. */
function byOptimizer(cells: readonly StepCell[], model: string): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const o of KIT_OPTIMIZERS) out[o] = cells.find((c) => c.model === model && c.optimizer === o)?.ms_per_step ?? null;
  return out;
}

/** The table rows for `models`, from our cells and PyTorch's. */
export function ratioRows(models: readonly string[], ours: readonly StepCell[], torch: readonly StepCell[]): RatioRow[] {
  return models.map((model) => {
    const o = byOptimizer(ours, model);
    const t = byOptimizer(torch, model);
    const refresh = (cells: readonly StepCell[]) => cells.find((c) => c.model === model && c.optimizer === "fsam")?.refresh_ms ?? null;
    return {
      model,
      ours: o,
      torch: t,
      ratios: {
        ours_sam_over_adam: ratio(o.sam, o.adam),
        ours_fsam_over_sam: ratio(o.fsam, o.sam),
        torch_sam_over_adam: ratio(t.sam, t.adam),
        torch_fsam_over_sam: ratio(t.fsam, t.sam),
        ours_over_torch: Object.fromEntries(KIT_OPTIMIZERS.map((k) => [k, ratio(o[k], t[k])])),
      },
      refresh_ms: { ours: refresh(ours), torch: refresh(torch) },
    };
  });
}

/** A number for the table, or "—". */
function cell(x: number | null, digits = 1): string {
  return x === null ? "—" : x.toFixed(digits);
}

/** The printed table: ms per step, ratios, and the bert-base targets. */
export function formatRatioTable(rows: readonly RatioRow[]): string[] {
  const lines = [
    "ms per step (ours = tfjs webgpu, torch = PyTorch fp32), ratios:",
    `${"model".padEnd(10)} ${"opt".padEnd(5)} ${"ours".padStart(10)} ${"torch".padStart(10)} ${"ours/torch".padStart(10)}`,
  ];
  for (const r of rows) {
    for (const o of KIT_OPTIMIZERS) {
      lines.push(`${r.model.padEnd(10)} ${o.padEnd(5)} ${cell(r.ours[o]).padStart(10)} ${cell(r.torch[o]).padStart(10)} ${cell(r.ratios.ours_over_torch[o], 2).padStart(10)}`);
    }
    lines.push(
      `${"".padEnd(10)} SAM/Adam ours ${cell(r.ratios.ours_sam_over_adam, 2)} torch ${cell(r.ratios.torch_sam_over_adam, 2)}; ` +
        `FSAM/SAM ours ${cell(r.ratios.ours_fsam_over_sam, 2)} torch ${cell(r.ratios.torch_fsam_over_sam, 2)}; ` +
        `FSAM refresh ms ours ${cell(r.refresh_ms.ours)} torch ${cell(r.refresh_ms.torch)}`,
    );
  }
  const base = rows.find((r) => r.model === "bert-base");
  if (base) {
    const verdict = (x: number | null, max: number) => (x === null ? "not measured" : x <= max ? "met" : "missed");
    lines.push(
      `bert-base targets: FSAM ours/torch ${cell(base.ratios.ours_over_torch.fsam, 2)} (≤ ${TARGETS.fsamOursOverTorch}: ${verdict(base.ratios.ours_over_torch.fsam, TARGETS.fsamOursOverTorch)}), ` +
        `SAM/Adam ${cell(base.ratios.ours_sam_over_adam, 2)} (≤ ${TARGETS.samOverAdam}: ${verdict(base.ratios.ours_sam_over_adam, TARGETS.samOverAdam)}), ` +
        `FSAM/SAM ${cell(base.ratios.ours_fsam_over_sam, 2)} (≤ ${TARGETS.fsamOverSam}: ${verdict(base.ratios.ours_fsam_over_sam, TARGETS.fsamOverSam)})`,
    );
  }
  return lines;
}
