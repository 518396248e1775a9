/**
 * The training loop itself, on prepared inputs: mini-batches per epoch, an optimizer, a schedule and
 * an evaluation function. `train()` (train.ts) resolves names, data and defaults into these inputs;
 * tests drive the loop directly with tiny models.
 */
import * as tf from "@tensorflow/tfjs";
import type { EncodedBatch, SequenceModel } from "../types.ts";
import { currentAbortSignal } from "../host.ts";
import { learningRateAt, type LearningRateSchedule } from "./schedule.ts";
import { setLearningRate } from "./optimizers.ts";
import { acceptsPerExampleLoss } from "../optim/esam.ts";
import { perExampleLoss } from "./per-example-loss.ts";
import type { HistoryRow } from "./history.ts";
import { TrainingProgress, type ProgressState } from "./progress.ts";
import type { Evaluation } from "./evaluate.ts";
import { OptimizerStateHold } from "./optimizer-hold.ts";
import { DivergenceError, WeightHold, checkDivergencePolicy, describeDivergence, readStepLoss, type Divergence, type DivergencePolicy } from "./divergence.ts";
import { checkPositiveInt } from "../check.ts";

/** A mask refresh reported by FisherSAM (the part of its event the trainer records). */
export interface MaskRefreshRecord {
  /** FisherSAM's step counter when the mask was refreshed. */
  step: number;
  /** The Fisher score threshold of the global top-k. */
  threshold: number;
}

/** What the loop needs from a FisherSAM: its mask-refresh events. */
export interface MaskRefreshSource {
  /** Subscribes to mask refreshes; returns the unsubscribe function. */
  onMaskRefresh(cb: (e: MaskRefreshRecord) => void): () => void;
  /** Makes a refresh due at the next step now, reading asynchronously (needed on webgpu). */
  prepareStep?(vars: tf.Variable[]): Promise<void>;
}

/** Early stopping: stop after `patience` evaluations without improvement of the monitored value. */
export interface EarlyStopping {
  /** Evaluations without improvement before stopping (≥ 1). */
  patience: number;
  /** What to monitor: the task metric (higher is better, default) or the dev loss (lower is better). */
  metric?: "metric" | "loss";
  /** Smallest change that counts as an improvement. Default 0. */
  minDelta?: number;
}

/** Information passed to `onStep` with each history row. */
export interface StepInfo {
  /** Steps planned. */
  totalSteps: number;
  /** The evaluation run after this step, if one ran. */
  evaluation?: Evaluation;
}

/** The inputs of {@link runTrainingLoop}. */
export interface TrainingLoopSetup {
  /** The model to train (its variables are updated in place). */
  model: SequenceModel;
  /** The optimizer; `minimize` is called once per step. */
  optimizer: tf.Optimizer;
  /** The FisherSAM inside the optimizer, to record its mask refreshes. */
  maskSource?: MaskRefreshSource;
  /** The mini-batches of epoch `epoch` (0-based), in order; the loop disposes each after its step. */
  epochBatches: (epoch: number) => Iterable<EncodedBatch>;
  /** Number of mini-batches per epoch. */
  stepsPerEpoch: number;
  /** Number of epochs. */
  epochs: number;
  /** Stop after this many steps in total (default epochs × stepsPerEpoch). */
  maxSteps?: number;
  /** The learning-rate schedule (its `totalSteps` should match). */
  schedule: LearningRateSchedule;
  /** Evaluates the model on the dev set. */
  evaluate: (model: SequenceModel) => Evaluation | Promise<Evaluation>;
  /** Name of the headline metric (for the progress display). */
  metricName: string;
  /** Evaluate every this many steps, in addition to each epoch end. 0 or undefined: epoch ends only. */
  evalEvery?: number;
  /** Evaluate at the end of each epoch (default true). The last step is always evaluated. */
  evalAtEpochEnd?: boolean;
  /** Early stopping on the dev evaluations. */
  earlyStopping?: EarlyStopping;
  /** Called when an evaluation sets a new best metric (e.g. to save a checkpoint). */
  onBest?: (model: SequenceModel, best: { step: number; metric: number }) => Promise<void> | void;
  /** Called after every step with its history row. */
  onStep?: (row: HistoryRow, info: StepInfo) => Promise<void> | void;
  /** Stops training after the current step when it fires (default: the host's cell signal). */
  signal?: AbortSignal;
  /** What a step with a non-finite loss or update does (see divergence.ts). Default `"stop"`. */
  onDivergence?: DivergencePolicy;
  /** The progress display (default: automatic). */
  progress?: TrainingProgress;
  /** Title of the progress display. */
  title?: string;
}

/** The outcome of {@link runTrainingLoop}. */
export interface TrainingLoopResult {
  /** One row per step. */
  rows: HistoryRow[];
  /** Best dev metric and the step it was reached at (NaN/0 when no evaluation ran). */
  best: { step: number; metric: number };
  /** The last dev evaluation's metric and loss, and the last training loss. */
  final: { metric: number; loss: number; trainLoss: number };
  /** True when the signal stopped the run. */
  interrupted: boolean;
  /** True when early stopping ended the run. */
  earlyStopped: boolean;
  /** The step whose loss or update was not finite, when the run diverged (it ended there). */
  diverged?: Divergence;
  /** Mask refreshes of a FisherSAM, in order. */
  maskRefreshes: MaskRefreshRecord[];
  /** Wall-clock seconds of the run. */
  seconds: number;
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Runs the loop: for each step, sets the scheduled learning rate, calls
 * `optimizer.minimize(loss of the batch)` (per-example losses for ESAM and Fisher-ESAM), records a history row, evaluates every `evalEvery` steps
 * and at each epoch end, keeps the best metric, applies early stopping and stops cleanly when the
 * signal fires. Yields to the event loop after each step so a notebook can interrupt it.
 */
export async function runTrainingLoop(setup: TrainingLoopSetup): Promise<TrainingLoopResult> {
  const { model, optimizer, schedule, stepsPerEpoch, epochs } = setup;
  const totalSteps = Math.min(setup.maxSteps ?? Infinity, epochs * stepsPerEpoch);
  if (setup.earlyStopping) checkPositiveInt("earlyStopping.patience", setup.earlyStopping.patience);
  const onDivergence = checkDivergencePolicy(setup.onDivergence ?? "stop");
  const monitorLoss = setup.earlyStopping?.metric === "loss";
  const minDelta = setup.earlyStopping?.minDelta ?? 0;
  const progress = setup.progress ?? new TrainingProgress();
  const rows: HistoryRow[] = [];
  const losses: number[] = [];
  const maskRefreshes: MaskRefreshRecord[] = [];
  let refreshedThisStep = false;
  const unsubscribe = setup.maskSource?.onMaskRefresh((e) => {
    refreshedThisStep = true;
    maskRefreshes.push({ step: e.step, threshold: e.threshold });
  });
  const best = { step: 0, metric: Number.NaN };
  let monitoredBest = Number.NaN;
  let sinceImprovement = 0;
  let last: Evaluation | undefined;
  let interrupted = false;
  let earlyStopped = false;
  let diverged: Divergence | undefined;
  let step = 0;
  const t0 = performance.now();
  const seconds = () => (performance.now() - t0) / 1000;
  const state = (status: ProgressState["status"]): ProgressState => {
    const row = rows[rows.length - 1];
    return {
      title: setup.title ?? "training",
      step,
      totalSteps,
      epoch: step / stepsPerEpoch,
      epochs,
      loss: row?.loss ?? Number.NaN,
      lr: row?.lr ?? Number.NaN,
      metricName: setup.metricName,
      metric: last?.metric ?? Number.NaN,
      bestMetric: best.metric,
      elapsed: seconds(),
      losses,
      status,
    };
  };

  const runEvaluation = async (row: HistoryRow): Promise<Evaluation> => {
    const ev = await setup.evaluate(model);
    last = ev;
    row.metric = ev.metric;
    row.devLoss = ev.loss;
    // A non-finite dev loss means a broken model, whatever its metric says: never the best.
    if (Number.isFinite(ev.loss) && Number.isFinite(ev.metric) && (Number.isNaN(best.metric) || ev.metric > best.metric)) {
      best.step = row.step;
      best.metric = ev.metric;
      await setup.onBest?.(model, { ...best });
    }
    const monitored = monitorLoss ? -ev.loss : ev.metric;
    if (Number.isNaN(monitoredBest) || monitored > monitoredBest + minDelta) {
      monitoredBest = monitored;
      sinceImprovement = 0;
    } else {
      sinceImprovement += 1;
    }
    return ev;
  };

  try {
    training: for (let epoch = 0; epoch < epochs && step < totalSteps; epoch++) {
      const iterator = setup.epochBatches(epoch)[Symbol.iterator]();
      try {
        let stepInEpoch = 0;
        while (step < totalSteps) {
          const next = iterator.next();
          if (next.done) break;
          const batch = next.value;
          const lr = learningRateAt(schedule, step);
          setLearningRate(optimizer, lr);
          refreshedThisStep = false;
          let loss: number;
          let nonFinite: string | undefined;
          const hold = new WeightHold(model.variables);
          const optimizerHold = new OptimizerStateHold(optimizer);
          try {
            await setup.maskSource?.prepareStep?.(model.variables);
            const cost = acceptsPerExampleLoss(optimizer)
              ? optimizer.minimize(perExampleLoss(model, batch, { training: true }), true, model.variables)
              : optimizer.minimize(() => model.loss(batch, { training: true }), true, model.variables);
            if (!cost) throw new Error("optimizer.minimize returned no cost");
            ({ loss, diverged: nonFinite } = await readStepLoss(cost, model.variables));
          } catch (err) {
            hold.release();
            optimizerHold.release();
            throw err;
          } finally {
            tf.dispose([batch.inputIds, batch.tokenTypeIds, batch.attentionMask, ...(batch.labels ? [batch.labels] : [])]);
          }
          step += 1;
          if (nonFinite !== undefined) {
            // The diverged step is undone (weights and optimizer state) and nothing of it is evaluated or saved.
            hold.restore();
            optimizerHold.restore();
            diverged = { step, loss, reason: nonFinite };
            losses.push(loss);
            rows.push({ step, epoch: step / stepsPerEpoch, loss, lr, metric: Number.NaN, devLoss: Number.NaN, time: seconds(), maskRefresh: refreshedThisStep });
            break training;
          }
          hold.release();
          optimizerHold.release();
          stepInEpoch += 1;
          losses.push(loss);
          const row: HistoryRow = {
            step,
            epoch: step / stepsPerEpoch,
            loss,
            lr,
            metric: Number.NaN,
            devLoss: Number.NaN,
            time: 0,
            maskRefresh: refreshedThisStep,
          };
          rows.push(row);
          const epochEnd = stepInEpoch === stepsPerEpoch && (setup.evalAtEpochEnd ?? true);
          const every = setup.evalEvery ?? 0;
          let evaluation: Evaluation | undefined;
          if (epochEnd || step === totalSteps || (every > 0 && step % every === 0)) evaluation = await runEvaluation(row);
          row.time = seconds();
          await setup.onStep?.(row, { totalSteps, ...(evaluation ? { evaluation } : {}) });
          progress.update(state("running"), evaluation !== undefined);
          if (setup.earlyStopping && evaluation && sinceImprovement >= setup.earlyStopping.patience) {
            earlyStopped = true;
            break training;
          }
          await nextTurn();
          if ((setup.signal ?? currentAbortSignal())?.aborted) {
            interrupted = true;
            break training;
          }
        }
        const lastRow = rows[rows.length - 1];
        if (
          lastRow && Number.isNaN(lastRow.metric) && (setup.evalAtEpochEnd ?? true) &&
          stepInEpoch > 0 && stepInEpoch < stepsPerEpoch && step < totalSteps
        ) {
          await runEvaluation(lastRow);
        }
      } finally {
        iterator.return?.();
      }
    }
  } finally {
    unsubscribe?.();
  }
  progress.finish(state(interrupted ? "interrupted" : earlyStopped ? "early-stopped" : diverged ? "diverged" : "done"));
  if (diverged && onDivergence === "throw") throw new DivergenceError(diverged);
  if (diverged) console.warn(`[fsam-lab] ${describeDivergence(diverged)}`);
  return {
    rows,
    best,
    final: {
      metric: last?.metric ?? Number.NaN,
      loss: last?.loss ?? Number.NaN,
      trainLoss: rows[rows.length - 1]?.loss ?? Number.NaN,
    },
    interrupted,
    earlyStopped,
    ...(diverged ? { diverged } : {}),
    maskRefreshes,
    seconds: seconds(),
  };
}
