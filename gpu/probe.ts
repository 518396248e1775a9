/**
 * The kit's correctness probe: the same seeded BERT classifier and batch on the webgpu backend and
 * on tfjs's cpu backend (the reference), compared within stated tolerances — initial weights,
 * forward loss, every gradient, the losses and weight changes of a few Adam, SAM and FSAM steps,
 * and FSAM's first Fisher-mask refresh — plus the number of WebGPU errors meanwhile.
 *
 * Every value is read with the asynchronous `data()`; where the library still reads synchronously
 * inside (see gpu/README.md), that optimizer's run fails with the library's error and the probe
 * reports it.
 */
import * as tf from "@tensorflow/tfjs";
import { createBertClassifier, type BertForSequenceClassification } from "../lib/models/classifier.ts";
import { createOptimizer } from "../lib/train/optimizers.ts";
import type { EncodedBatch } from "../lib/types.ts";
import { disposeBatch, exampleOf, randomBatch } from "./batch.ts";
import { checkDeadline, say } from "./budget.ts";
import { prepareFsamStep } from "./fsam-refresh.ts";
import { KIT_OPTIMIZERS, type KitOptimizer, type ProbeShapes } from "./options.ts";
import { settleErrors, type WebgpuErrorLog } from "./webgpu-device.ts";

/**
 * Tolerances of the probe, as relative L2 differences ‖webgpu − cpu‖ / ‖cpu‖ (fp32 on both sides;
 * only the order of summation differs) unless said otherwise.
 */
export const PROBE_TOLERANCES = {
  /** Initial weights (the seeded initialisation runs in JavaScript: identical). */
  initial: 1e-7,
  /** The forward loss, relative. */
  loss: 1e-4,
  /** All gradients together. */
  gradients: 1e-3,
  /** Each step's loss, relative, worst step. */
  stepLoss: 1e-3,
  /** The weight change w_final − w_initial over all weights. */
  weightChange: 1e-2,
  /** FSAM mask: kept entries in common / kept entries (at least). */
  maskOverlap: 0.99,
  /** FSAM mask: the Fisher threshold, relative. */
  threshold: 1e-2,
} as const;

/** One comparison of the probe. */
export interface ProbeCheck {
  /** What was compared, e.g. "gradients" or "sam: weight change after 5 steps". */
  name: string;
  /** True when within tolerance. */
  ok: boolean;
  /** The measured difference (NaN when the comparison could not be made). */
  value: number;
  /** The tolerance it is held to (a minimum for the mask overlap, a maximum otherwise). */
  tolerance: number;
  /** Extra detail: the values compared, the worst variable, or why the check could not run. */
  detail: string;
}

/** The probe's result. */
export interface ProbeReport {
  /** Every check, in order. */
  checks: ProbeCheck[];
  /** Number of checks that passed. */
  passed: number;
  /** WebGPU errors while the probe ran on webgpu. */
  webgpuErrors: number;
}

/** Weights by Hugging Face name. */
type Weights = Map<string, Float32Array>;

/** The first mask FSAM chose: kept entries per variable and the Fisher threshold. */
interface MaskSnapshot {
  kept: Map<string, Uint8Array>;
  threshold: number;
}

/** A few optimizer steps on one backend, or the error that stopped them. */
interface OptimizerRun {
  losses: number[];
  weights: Weights;
  mask?: MaskSnapshot;
  error?: string;
}

/** Everything computed on one backend. */
interface BackendRun {
  initial: Weights;
  loss: number;
  gradients: Weights;
  runs: Map<KitOptimizer, OptimizerRun>;
}

/** Reads every weight of the model, by Hugging Face name, asynchronously. */
async function readWeights(model: BertForSequenceClassification): Promise<Weights> {
  const out: Weights = new Map();
  for (const name of model.parameterNames()) out.set(name, (await model.variable(name).data()) as Float32Array);
  return out;
}

/** Reads a scalar asynchronously and frees it. */
async function scalar(t: tf.Tensor): Promise<number> {
  const value = (await t.data())[0];
  t.dispose();
  return value;
}

/** Runs `steps` optimizer steps of `name` on a fresh model; captures FSAM's first mask. */
async function optimizerRun(name: KitOptimizer, shapes: ProbeShapes, batch: EncodedBatch): Promise<OptimizerRun> {
  const model = createBertClassifier(shapes.config, { seed: 0 });
  const fisherLoss = (i: number) => tf.tidy(() => model.loss(exampleOf(batch, i % shapes.batch), { training: false }));
  const built = createOptimizer(name, { lr: shapes.lr, fisherLoss, fisherSamples: shapes.fisherSamples, maskInterval: 100 });
  const run: OptimizerRun = { losses: [], weights: new Map() };
  try {
    for (let s = 0; s < shapes.steps; s++) {
      await prepareFsamStep(built.fisher, model.variables);
      const loss = await built.optimizer.minimize(() => model.loss(batch, { training: false }), true, model.variables);
      run.losses.push(await scalar(loss as tf.Scalar));
      if (s === 0 && built.fisher) {
        run.mask = { kept: new Map([...built.fisher.maskData].map(([k, v]) => [k, v.slice()])), threshold: built.fisher.threshold };
      }
    }
    run.weights = await readWeights(model);
  } catch (error) {
    run.error = error instanceof Error ? error.message.split("\n")[0] : String(error);
  } finally {
    built.optimizer.dispose();
    model.dispose();
  }
  return run;
}

/** Computes everything the probe compares on `backend`. */
async function runOn(backend: "cpu" | "webgpu", shapes: ProbeShapes, deadline: number): Promise<BackendRun> {
  if (!(await tf.setBackend(backend))) throw new Error(`tf.setBackend("${backend}") failed`);
  const batch = randomBatch(shapes.batch, shapes.seq, shapes.config.vocab_size, 1, true);
  const model = createBertClassifier(shapes.config, { seed: 0 });
  try {
    const initial = await readWeights(model);
    const { value, grads } = tf.variableGrads(() => model.loss(batch, { training: false }), model.variables);
    const loss = await scalar(value);
    const gradients: Weights = new Map();
    for (const name of model.parameterNames()) {
      const g = grads[model.variable(name).name];
      gradients.set(name, g ? ((await g.data()) as Float32Array) : new Float32Array(model.variable(name).size));
    }
    tf.dispose(Object.values(grads));
    model.dispose();
    const runs = new Map<KitOptimizer, OptimizerRun>();
    for (const name of KIT_OPTIMIZERS) {
      checkDeadline(deadline, `the ${name} steps on ${backend}`);
      runs.set(name, await optimizerRun(name, shapes, batch));
    }
    return { initial, loss, gradients, runs };
  } finally {
    model.dispose();
    disposeBatch(batch);
  }
}

/**
 * ‖a − b‖ / ‖b‖ over all names together, and the name that contributes most to the difference
 * (its own ‖a − b‖ as a fraction of the whole ‖b‖).
 */
function relativeL2(a: Weights, b: Weights): { value: number; worst: string } {
  let norm = 0;
  const diffs: [string, number][] = [];
  for (const [name, y] of b) {
    const x = a.get(name);
    if (x === undefined || x.length !== y.length) return { value: NaN, worst: `${name} missing or reshaped` };
    let d = 0;
    for (let i = 0; i < y.length; i++) {
      d += (x[i] - y[i]) ** 2;
      norm += y[i] ** 2;
    }
    diffs.push([name, d]);
  }
  const scale = norm > 0 ? Math.sqrt(norm) : 1;
  const total = Math.sqrt(diffs.reduce((s, [, d]) => s + d, 0)) / scale;
  const [worstName, worstDiff] = diffs.reduce((w, x) => (x[1] > w[1] ? x : w), ["", -1]);
  return { value: total, worst: `${worstName} ${(Math.sqrt(Math.max(0, worstDiff)) / scale).toExponential(1)}` };
}

/** w − w0 per name. */
function change(weights: Weights, initial: Weights): Weights {
  const out: Weights = new Map();
  for (const [name, w] of weights) {
    const w0 = initial.get(name) as Float32Array;
    out.set(name, w.map((x, i) => x - w0[i]));
  }
  return out;
}

/** Kept entries in common / kept entries of the reference. */
function maskOverlap(a: MaskSnapshot, b: MaskSnapshot): number {
  let common = 0;
  let kept = 0;
  for (const [name, y] of b.kept) {
    const x = a.kept.get(name);
    for (let i = 0; i < y.length; i++) {
      kept += y[i];
      if (y[i] === 1 && x?.[i] === 1) common++;
    }
  }
  return kept === 0 ? 1 : common / kept;
}

/** A check that passes when `value` ≤ `tolerance` (or ≥ it, for `atLeast`). */
function check(name: string, value: number, tolerance: number, detail: string, atLeast = false): ProbeCheck {
  const ok = Number.isFinite(value) && (atLeast ? value >= tolerance : value <= tolerance);
  return { name, ok, value, tolerance, detail };
}

/** The comparisons of the webgpu run against the cpu run. */
function compare(gpu: BackendRun, cpu: BackendRun, steps: number): ProbeCheck[] {
  const T = PROBE_TOLERANCES;
  const checks: ProbeCheck[] = [];
  const initial = relativeL2(gpu.initial, cpu.initial);
  checks.push(check("initial weights", initial.value, T.initial, `worst ${initial.worst}`));
  const lossDiff = Math.abs(gpu.loss - cpu.loss) / Math.max(Math.abs(cpu.loss), 1e-12);
  checks.push(check("forward loss", lossDiff, T.loss, `webgpu ${gpu.loss.toPrecision(8)}, cpu ${cpu.loss.toPrecision(8)}`));
  const grads = relativeL2(gpu.gradients, cpu.gradients);
  checks.push(check("gradients", grads.value, T.gradients, `worst ${grads.worst}`));
  for (const name of KIT_OPTIMIZERS) {
    const g = gpu.runs.get(name) as OptimizerRun;
    const c = cpu.runs.get(name) as OptimizerRun;
    const failed = g.error !== undefined || c.error !== undefined;
    const why = [g.error && `webgpu: ${g.error}`, c.error && `cpu: ${c.error}`].filter(Boolean).join("; ");
    if (failed) {
      checks.push(check(`${name}: ${steps} steps`, NaN, T.stepLoss, why));
      if (name === "fsam") checks.push(check("fsam: mask refresh", NaN, T.maskOverlap, why, true));
      continue;
    }
    const worstLoss = Math.max(...g.losses.map((l, i) => Math.abs(l - c.losses[i]) / Math.max(Math.abs(c.losses[i]), 1e-12)));
    checks.push(check(`${name}: losses of ${steps} steps`, worstLoss, T.stepLoss,
      `webgpu ${g.losses.map((l) => l.toFixed(5)).join(" ")}; cpu ${c.losses.map((l) => l.toFixed(5)).join(" ")}`));
    const delta = relativeL2(change(g.weights, gpu.initial), change(c.weights, cpu.initial));
    checks.push(check(`${name}: weight change after ${steps} steps`, delta.value, T.weightChange, `worst ${delta.worst}`));
    if (name === "fsam" && g.mask && c.mask) {
      const overlap = maskOverlap(g.mask, c.mask);
      checks.push(check("fsam: mask refresh (kept in common)", overlap, T.maskOverlap, `threshold webgpu ${g.mask.threshold.toExponential(4)}, cpu ${c.mask.threshold.toExponential(4)}`, true));
      const th = Math.abs(g.mask.threshold - c.mask.threshold) / Math.max(Math.abs(c.mask.threshold), 1e-30);
      checks.push(check("fsam: mask threshold", th, T.threshold, ""));
    }
  }
  return checks;
}

/** One printed line of a check. */
export function formatCheck(c: ProbeCheck): string {
  const value = Number.isFinite(c.value) ? c.value.toExponential(2) : "n/a";
  const bound = `${c.name.includes("kept in common") ? "≥" : "≤"} ${c.tolerance}`;
  return `  ${c.ok ? "ok  " : "FAIL"} ${c.name.padEnd(40)} ${value.padStart(9)} (${bound})  ${c.detail}`;
}

/**
 * Runs the probe: cpu first (the reference), then webgpu, then the comparisons, printing each.
 * Leaves the webgpu backend active.
 *
 * @param deadline epoch ms; the probe stops between units of work once it has passed.
 */
export async function correctnessProbe(shapes: ProbeShapes, errors: WebgpuErrorLog, deadline: number): Promise<ProbeReport> {
  const c = shapes.config;
  say(`model: L${c.num_hidden_layers} H${c.hidden_size} A${c.num_attention_heads} I${c.intermediate_size} vocab ${c.vocab_size}; batch ${shapes.batch} × seq ${shapes.seq}; ${shapes.steps} steps at lr ${shapes.lr}; FSAM Fisher from ${shapes.fisherSamples} examples`);
  let t = Date.now();
  const cpu = await runOn("cpu", shapes, deadline);
  say(`cpu reference: ${((Date.now() - t) / 1000).toFixed(1)} s`);
  t = Date.now();
  const before = errors.count;
  let gpu: BackendRun;
  try {
    gpu = await runOn("webgpu", shapes, deadline);
    await settleErrors();
  } finally {
    await tf.setBackend("webgpu");
  }
  const webgpuErrors = errors.count - before;
  say(`webgpu run: ${((Date.now() - t) / 1000).toFixed(1)} s`);
  const checks = compare(gpu, cpu, shapes.steps);
  checks.push(check("WebGPU errors during the probe", webgpuErrors, 0, webgpuErrors > 0 ? [...errors.messages.keys()][0] ?? "" : ""));
  for (const line of checks.map(formatCheck)) say(line);
  const passed = checks.filter((x) => x.ok).length;
  say(`probe: ${passed}/${checks.length} checks passed`);
  return { checks, passed, webgpuErrors };
}
