/**
 * The kit's timed steps on webgpu: ms per training step of the library's BERT classifier with the
 * library's Adam, SAM and FSAM, batch × seq random tokens, dropout on (training mode).
 *
 * A step is `optimizer.minimize(loss)` followed by an asynchronous read of the returned loss: the
 * read submits every command the step encoded and waits for the GPU queue to finish them (WebGPU
 * queues run in order), so the wall time covers the whole step. FSAM's timed steps are non-refresh
 * steps (mask interval 100, step 0 — the first warm-up step — refreshes); one refresh is timed on
 * its own. Each cell gets an equal share of the time left; leftovers pass to later cells.
 */
import * as tf from "@tensorflow/tfjs";
import { createBertClassifier, type BertForSequenceClassification } from "../lib/models/classifier.ts";
import { createOptimizer } from "../lib/train/optimizers.ts";
import type { EncodedBatch } from "../lib/types.ts";
import { disposeBatch, exampleOf, randomBatch } from "./batch.ts";
import { say } from "./budget.ts";
import { prepareFsamStep, refreshFsamMask } from "./fsam-refresh.ts";
import { KIT_OPTIMIZERS, type BenchShapes, type KitOptimizer } from "./options.ts";
import { settleErrors, type WebgpuErrorLog } from "./webgpu-device.ts";

/** The result of one model × optimizer cell (ours or PyTorch's; same field names as torch_bench.py). */
export interface StepCell {
  /** Preset name. */
  model: string;
  /** Optimizer name. */
  optimizer: string;
  /** Number of weights. */
  params?: number;
  /** Median ms per step over the timed steps. */
  ms_per_step?: number;
  /** Mean ms per step. */
  ms_mean?: number;
  /** Fastest step. */
  ms_min?: number;
  /** Timed steps. */
  steps?: number;
  /** Untimed steps before. */
  warmup?: number;
  /** FSAM: ms of one Fisher-mask refresh. */
  refresh_ms?: number;
  /** Loss of the first timed step (a finite number says the step computed something). */
  loss?: number;
  /** Change of `tf.memory().numTensors` over the timed steps (0: no leak). */
  tensors_delta?: number;
  /** WebGPU errors during the cell. */
  webgpu_errors?: number;
  /** Why the cell failed. */
  error?: string;
  /** Why the cell did not run. */
  skipped?: string;
}

/** Median of a non-empty list. */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Milliseconds with three decimals. */
function ms3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** Formats one cell as a line of the running log. */
export function formatCell(cell: StepCell): string {
  const head = `${cell.model.padEnd(10)} ${cell.optimizer.padEnd(5)}`;
  if (cell.skipped !== undefined) return `${head} skipped: ${cell.skipped}`;
  if (cell.error !== undefined) return `${head} error: ${cell.error}`;
  const refresh = cell.refresh_ms !== undefined ? `, refresh ${cell.refresh_ms.toFixed(1)} ms` : "";
  const errors = cell.webgpu_errors ? `, ${cell.webgpu_errors} WebGPU errors` : "";
  const leak = cell.tensors_delta ? `, tensors ${cell.tensors_delta > 0 ? "+" : ""}${cell.tensors_delta}` : "";
  return `${head} ${(cell.ms_per_step as number).toFixed(2).padStart(9)} ms/step (median of ${cell.steps})${refresh}${errors}${leak}`;
}

/**
 * Times one optimizer on an already built model: warm-up, FSAM's refresh, then steps until
 * `shapes.steps` or `deadline` (at least one, unless the whole part's `partDeadline` passed
 * during the warm-up). Throws on the library's errors.
 */
async function timeCell(
  name: KitOptimizer,
  model: BertForSequenceClassification,
  batch: EncodedBatch,
  fisherBatch: EncodedBatch,
  shapes: BenchShapes,
  deadline: number,
  partDeadline: number,
): Promise<StepCell> {
  const fisherLoss = (i: number) => tf.tidy(() => model.loss(exampleOf(fisherBatch, i % shapes.fisherSamples), { training: false }));
  const built = createOptimizer(name, { lr: 2e-5, fisherLoss, fisherSamples: shapes.fisherSamples, maskInterval: 100 });
  const step = async (): Promise<number> => {
    await prepareFsamStep(built.fisher, model.variables);
    const loss = (await built.optimizer.minimize(() => model.loss(batch, { training: true }), true, model.variables)) as tf.Scalar;
    const value = (await loss.data())[0];
    loss.dispose();
    return value;
  };
  try {
    const cell: StepCell = { model: "", optimizer: name, params: model.parameterCount(), warmup: shapes.warmup };
    for (let i = 0; i < shapes.warmup; i++) await step();
    if (built.fisher) {
      const t0 = performance.now();
      await refreshFsamMask(built.fisher, model.variables);
      cell.refresh_ms = ms3(performance.now() - t0);
    }
    if (Date.now() >= partDeadline) throw new Error("time budget spent during the warm-up steps: no step timed");
    const tensors = tf.memory().numTensors;
    const times: number[] = [];
    while (times.length < shapes.steps && (times.length === 0 || Date.now() < deadline)) {
      const t0 = performance.now();
      const loss = await step();
      times.push(performance.now() - t0);
      cell.loss ??= loss;
    }
    Object.assign(cell, {
      ms_per_step: ms3(median(times)),
      ms_mean: ms3(times.reduce((a, b) => a + b, 0) / times.length),
      ms_min: ms3(Math.min(...times)),
      steps: times.length,
      tensors_delta: tf.memory().numTensors - tensors,
    });
    return cell;
  } finally {
    built.optimizer.dispose();
  }
}

/**
 * Times every model × optimizer on webgpu, printing each cell as it completes. A failing cell is
 * reported and the next one runs; cells that no time is left for are listed as skipped.
 *
 * @param deadline epoch ms by which timing stops.
 * @param onCell called with the cells so far after each one (the check saves them).
 */
export async function benchWebgpu(
  shapes: BenchShapes,
  errors: WebgpuErrorLog,
  deadline: number,
  onCell: (cells: StepCell[]) => void = () => undefined,
): Promise<StepCell[]> {
  say(`batch ${shapes.batch} × seq ${shapes.seq}, ${shapes.warmup} warm-up + up to ${shapes.steps} timed steps per cell, FSAM Fisher from ${shapes.fisherSamples} examples, dropout on`);
  const cells: StepCell[] = [];
  const total = shapes.models.length * KIT_OPTIMIZERS.length;
  for (const { name, config } of shapes.models) {
    if (Date.now() >= deadline) {
      for (const optimizer of KIT_OPTIMIZERS) {
        cells.push({ model: name, optimizer, skipped: "webgpu time budget spent" });
        say(formatCell(cells[cells.length - 1]));
        onCell(cells);
      }
      continue;
    }
    const model = createBertClassifier(config, { seed: 0 });
    const batch = randomBatch(shapes.batch, shapes.seq, config.vocab_size, 1);
    const fisherBatch = randomBatch(shapes.fisherSamples, shapes.seq, config.vocab_size, 2);
    try {
      for (const optimizer of KIT_OPTIMIZERS) {
        const left = deadline - Date.now();
        let cell: StepCell;
        if (left <= 0) {
          cell = { model: name, optimizer, skipped: "webgpu time budget spent" };
        } else {
          const before = errors.count;
          const cellDeadline = Date.now() + left / (total - cells.length);
          try {
            cell = { ...(await timeCell(optimizer, model, batch, fisherBatch, shapes, cellDeadline, deadline)), model: name };
          } catch (error) {
            cell = { model: name, optimizer, error: error instanceof Error ? error.message.split("\n")[0] : String(error) };
          }
          await settleErrors();
          cell.webgpu_errors = errors.count - before;
        }
        cells.push(cell);
        say(formatCell(cell));
        onCell(cells);
      }
    } finally {
      model.dispose();
      disposeBatch(batch);
      disposeBatch(fisherBatch);
    }
  }
  return cells;
}
