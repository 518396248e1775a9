/**
 * Conversion of examples to a danfojs DataFrame, for inspection in notebooks.
 */
import type * as dfd from "danfojs-node";
import { newDataFrame } from "../danfo.ts";
import type { Example } from "../types.ts";
import { getTask, type TaskSpec } from "./tasks.ts";

/**
 * A DataFrame with columns `textA`, `textB` (when any example has one), `label`, `idx` (when any
 * example has one) and, when `task` names a classification task, `labelName`.
 */
export function toDataFrame(examples: readonly Example[], task?: TaskSpec | string): dfd.DataFrame {
  const spec = task === undefined ? undefined : typeof task === "string" ? getTask(task) : task;
  const columns: Record<string, (string | number)[]> = { textA: examples.map((e) => e.textA) };
  if (examples.some((e) => e.textB !== undefined)) columns.textB = examples.map((e) => e.textB ?? "");
  columns.label = examples.map((e) => e.label);
  if (spec && !spec.isRegression) columns.labelName = examples.map((e) => spec.labelNames[e.label] ?? String(e.label));
  if (examples.some((e) => e.idx !== undefined)) columns.idx = examples.map((e) => e.idx ?? -1);
  return newDataFrame(columns);
}
