/**
 * The training history as a danfojs DataFrame (kept apart from history.ts so that code reading or
 * writing history rows does not load danfojs).
 */
import type * as dfd from "danfojs-node";
import { newDataFrame } from "../danfo.ts";
import { historyColumns, type HistoryRow } from "./history.ts";

/** The history as a danfojs DataFrame with the columns of {@link historyColumns}. */
export function historyFrame(rows: readonly HistoryRow[]): dfd.DataFrame {
  if (rows.length === 0) return newDataFrame([], { columns: [...historyColumns] });
  const columns: Record<string, (number | boolean)[]> = {};
  for (const c of historyColumns) columns[c] = rows.map((r) => r[c]);
  return newDataFrame(columns, { columns: [...historyColumns] });
}
