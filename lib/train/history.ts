/**
 * The training history: one row per optimisation step, plus the evaluation result on the rows where
 * an evaluation ran, as plain objects and as CSV (history-frame.ts makes the DataFrame).
 */
/** One row of the history. Fields that do not apply to a row are NaN. */
export interface HistoryRow {
  /** Optimisation steps completed (1 after the first update). */
  step: number;
  /** Epoch as a fraction: 1.5 is half-way through the second epoch. */
  epoch: number;
  /** Training loss of this step's mini-batch at the unperturbed weights. */
  loss: number;
  /** Learning rate used for this step's update. */
  lr: number;
  /** The task's headline metric on the dev set, where an evaluation ran after this step; else NaN. */
  metric: number;
  /** Dev loss where an evaluation ran; else NaN. */
  devLoss: number;
  /** Seconds since training started, when the row was recorded. */
  time: number;
  /** True when FisherSAM refreshed its mask during this step. */
  maskRefresh: boolean;
}

/** The history column names, in order. */
export const historyColumns = ["step", "epoch", "loss", "lr", "metric", "devLoss", "time", "maskRefresh"] as const;

/** The rows of the history where an evaluation ran. */
export function evaluationRows(rows: readonly HistoryRow[]): HistoryRow[] {
  return rows.filter((r) => !Number.isNaN(r.metric));
}

function csvCell(v: unknown): string {
  if (typeof v === "number") return Number.isNaN(v) ? "" : String(v);
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/**
 * Rows as CSV text (header line, one line per row; NaN as an empty cell). `extra` columns (e.g.
 * optimizer and seed of a run) are written first.
 */
export function historyCsv(
  runs: readonly { extra: Record<string, string | number>; rows: readonly HistoryRow[] }[],
): string {
  const extraNames = [...new Set(runs.flatMap((r) => Object.keys(r.extra)))];
  const lines = [[...extraNames, ...historyColumns].join(",")];
  for (const run of runs) {
    for (const row of run.rows) {
      lines.push([...extraNames.map((n) => run.extra[n] ?? ""), ...historyColumns.map((c) => row[c])].map(csvCell).join(","));
    }
  }
  return lines.join("\n") + "\n";
}
