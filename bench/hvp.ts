// Accuracy and cost of Hessian-vector products (lib/inspect/hvp.ts):
// 1. a small BERT (2 layers, hidden 8) where an exact float64 H·v is affordable (hyper-dual numbers,
//    test/inspect/float64-bert.ts): relative error of double back-propagation, plain central
//    differences and Richardson-extrapolated differences (the `auto` fallback) at the default step;
// 2. bert-tiny, 40 Adam steps into training, on a batch of the default task: how far the finite
//    differences are from double back-propagation (exact per 1.), vᵀHv of each against a float64
//    vᵀHv (one hyper-dual pass at full size), and the milliseconds per product each way;
// 3. what the twice-differentiable gradients would cost an ordinary Adam step of bert-tiny if they
//    were installed for training (interleaved A/B; hvp.ts only swaps them in during products).
// Run: npx tsx bench/hvp.ts [batch] [seqLen]   (backend from FSAM_BACKEND, default: best available)
// bench/fidelity.ts may import measureHvpFidelity() instead.
import { pathToFileURL } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { formatBackendInfo, initBackend } from "../lib/backend.ts";
import { type BertForSequenceClassification, createBertClassifier } from "../lib/models/classifier.ts";
import type { EncodedBatch } from "../lib/types.ts";
import { loadDefaultTask } from "../lib/data/default-task.ts";
import { encodeExamples } from "../lib/data/batches.ts";
import { doubleBackpropHvp, finiteDifferenceHvp, richardsonHvp } from "../lib/inspect/hvp.ts";
import { withSecondOrderGradients } from "../lib/inspect/second-order-gradients.ts";
import { type ParamVector, disposeVector, gaussianVector, norm, shapesOf } from "../lib/inspect/param-vector.ts";
import { relativeError } from "../test/inspect/hyperdual.ts";
import { type PlainBatch, SMALL_BATCH, SMALL_BERT, float64BertBilinear, float64BertHvp, tensorBatch } from "../test/inspect/float64-bert.ts";

/** Errors of each method against a reference, and ms per product. */
export interface MethodFigures {
  /** Double back-propagation (exact products). */
  doubleBackprop: { relativeError: number; ms: number };
  /** Plain central difference at its default step 1e-3 · max(1, ‖w‖). */
  finiteDifference: { relativeError: number; ms: number; step: number };
  /** Richardson-extrapolated central differences at their default step 1e-2 · max(1, ‖w‖), with their own error estimate. */
  richardson: { relativeError: number; estimate: number; ms: number; step: number };
  /** vᵀ·(H·v) by each method (the Rayleigh quotient's numerator, what eigenvalue estimates are made of). */
  quadratic: { doubleBackprop: number; finiteDifference: number; richardson: number };
}

/** What {@link measureHvpFidelity} measures. */
export interface HvpFidelity {
  /** Small BERT, errors against the float64 hyper-dual H·v. */
  small: MethodFigures & { parameters: number };
  /** bert-tiny, errors against double back-propagation. */
  bertTiny: MethodFigures & {
    parameters: number;
    gradientMs: number;
    batch: number;
    seqLen: number;
    trainSteps: number;
    /** vᵀHv in float64 (one hyper-dual pass of test/inspect/float64-bert.ts): the independent check at this size. */
    float64Quadratic: number;
  };
}

const flat = (p: ParamVector) => new Float64Array(p.flatMap((t) => [...t.dataSync()]));

/** Runs `fn` `reps` times after one warm-up and returns its result and the median ms. */
async function timed<T>(fn: () => T | Promise<T>, dispose: (x: T) => void, reps = 3): Promise<{ result: T; ms: number }> {
  dispose(await fn());
  const times: number[] = [];
  let result!: T;
  for (let r = 0; r < reps; r++) {
    if (r > 0) dispose(result);
    const t0 = performance.now();
    result = await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { result, ms: times[Math.floor(reps / 2)] };
}

/** The three methods on one model and batch, errors against `reference` (or double back-prop). */
async function compareMethods(model: BertForSequenceClassification, batch: EncodedBatch, v: ParamVector, reference?: Float64Array): Promise<MethodFigures> {
  const vars = model.variables;
  const loss = () => model.loss(batch, { training: false });
  const scale = Math.max(1, await norm(vars));
  const dbp = await timed(() => doubleBackpropHvp(loss, vars, v), disposeVector);
  const fd = await timed(() => finiteDifferenceHvp(loss, vars, v, 1e-3 * scale), disposeVector);
  const rich = await timed(() => richardsonHvp(loss, vars, v, 1e-2 * scale), (r) => disposeVector(r.product));
  const exact = flat(dbp.result);
  const ref = reference ?? exact;
  const vFlat = flat(v);
  const vDot = (p: ParamVector) => flat(p).reduce((acc, x, i) => acc + x * vFlat[i], 0);
  const out: MethodFigures = {
    doubleBackprop: { relativeError: reference ? relativeError(exact, ref) : 0, ms: dbp.ms },
    finiteDifference: { relativeError: relativeError(flat(fd.result), ref), ms: fd.ms, step: 1e-3 * scale },
    richardson: { relativeError: relativeError(flat(rich.result.product), ref), estimate: rich.result.relativeError, ms: rich.ms, step: 1e-2 * scale },
    quadratic: { doubleBackprop: vDot(dbp.result), finiteDifference: vDot(fd.result), richardson: vDot(rich.result.product) },
  };
  [dbp.result, fd.result, rich.result.product].forEach(disposeVector);
  return out;
}

/**
 * Measures the accuracy and cost of the Hessian-vector product methods (see the file header);
 * bert-tiny is first trained `trainSteps` Adam steps (lr 2e-3, batches of 16) on the default task.
 */
export async function measureHvpFidelity(options: { batch?: number; seqLen?: number; trainSteps?: number } = {}): Promise<HvpFidelity> {
  const batchSize = options.batch ?? 8;
  const seqLen = options.seqLen ?? 32;
  const trainSteps = options.trainSteps ?? 40;
  const small = createBertClassifier(SMALL_BERT, { numLabels: 2, seed: 3 });
  const smallBatch = tensorBatch(SMALL_BATCH);
  const vSmall = gaussianVector(shapesOf(small.variables), 7);
  const smallFigures = await compareMethods(small, smallBatch, vSmall, float64BertHvp(small, SMALL_BATCH, flat(vSmall)));
  const smallParams = small.parameterCount();
  disposeVector(vSmall);
  tf.dispose(Object.values(smallBatch));
  small.dispose();

  const task = loadDefaultTask();
  const model = createBertClassifier("bert-tiny", { numLabels: task.task.numLabels, seed: 0 });
  const adam = tf.train.adam(2e-3);
  for (let s = 0; s < trainSteps; s++) {
    const start = (s * 16) % (task.train.length - 16);
    const b = encodeExamples(task.train.slice(start, start + 16), task.tokenizer, { maxLength: seqLen, task: task.task });
    tf.tidy(() => {
      adam.minimize(() => model.loss(b, { training: true }), false, model.variables);
    });
    tf.dispose(Object.values(b));
  }
  adam.dispose();
  const batch = encodeExamples(task.train.slice(0, batchSize), task.tokenizer, { maxLength: seqLen, task: task.task });
  const v = gaussianVector(shapesOf(model.variables), 11);
  const tiny = await compareMethods(model, batch, v);
  const plain: PlainBatch = {
    inputIds: batch.inputIds.arraySync(),
    tokenTypeIds: batch.tokenTypeIds.arraySync(),
    attentionMask: batch.attentionMask.arraySync(),
    labels: batch.labels!.arraySync() as number[],
  };
  const vFlat = flat(v);
  const float64Quadratic = float64BertBilinear(model, plain, vFlat, vFlat);
  const loss = () => model.loss(batch, { training: false });
  const gradientMs = (await timed(
    () => tf.tidy(() => { const { value, grads } = tf.variableGrads(loss, model.variables); return [value, ...Object.values(grads)]; }),
    (ts) => tf.dispose(ts),
  )).ms;
  const figures: HvpFidelity = {
    small: { ...smallFigures, parameters: smallParams },
    bertTiny: { ...tiny, parameters: model.parameterCount(), gradientMs, batch: batch.inputIds.shape[0], seqLen: batch.inputIds.shape[1], trainSteps, float64Quadratic },
  };
  disposeVector(v);
  tf.dispose(Object.values(batch));
  model.dispose();
  return figures;
}

/**
 * ms per Adam step of bert-tiny, interleaved over `rounds` rounds (medians): the classifier's loss as
 * it is (log-probabilities as logits − logSumExp) with tfjs's gradients; the same with the
 * twice-differentiable gradients installed; and the loss as it was before (tf.logSoftmax).
 */
export function adamStepAB(rounds = 10, batchSize = 32, seqLen = 64): { stockMs: number; secondOrderMs: number; logSoftmaxMs: number; shape: number[] } {
  const task = loadDefaultTask();
  const model = createBertClassifier("bert-tiny", { numLabels: task.task.numLabels, seed: 0 });
  const batch = encodeExamples(task.train.slice(0, batchSize), task.tokenizer, { maxLength: seqLen, task: task.task });
  const adam = tf.train.adam(1e-5);
  const step = () => tf.tidy(() => { adam.minimize(() => model.loss(batch, { training: true }), false, model.variables); });
  const oneHot = tf.oneHot(tf.cast(batch.labels!, "int32"), model.numLabels);
  const logSoftmaxLoss = () => tf.neg(tf.mean(tf.sum(tf.mul(oneHot, tf.logSoftmax(model.logits(batch, { training: true }))), 1))) as tf.Scalar;
  const before = () => tf.tidy(() => { adam.minimize(logSoftmaxLoss, false, model.variables); });
  const time = (fn: () => void) => { const t0 = performance.now(); fn(); return performance.now() - t0; };
  step();
  withSecondOrderGradients(step);
  before();
  const a: number[] = [];
  const b: number[] = [];
  const c: number[] = [];
  for (let r = 0; r < rounds; r++) {
    a.push(time(step));
    b.push(time(() => withSecondOrderGradients(step)));
    c.push(time(before));
  }
  oneHot.dispose();
  const shape = batch.inputIds.shape;
  const median = (xs: number[]) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  adam.dispose();
  tf.dispose(Object.values(batch));
  model.dispose();
  return { stockMs: median(a), secondOrderMs: median(b), logSoftmaxMs: median(c), shape };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const batchArg = Number(process.argv[2] ?? 8);
  const seqArg = Number(process.argv[3] ?? 32);
  if (!Number.isInteger(batchArg) || batchArg < 1) throw new Error(`batch must be a positive integer, got "${process.argv[2]}"`);
  if (!Number.isInteger(seqArg) || seqArg < 2) throw new Error(`seqLen must be an integer ≥ 2, got "${process.argv[3]}"`);
  console.log(formatBackendInfo(await initBackend()));
  const f = await measureHvpFidelity({ batch: batchArg, seqLen: seqArg });
  const line = (name: string, m: MethodFigures, ref: string) => {
    console.log(`${name}, relative error vs ${ref}:`);
    console.log(`  double back-prop   ${m.doubleBackprop.relativeError.toExponential(2)}   ${m.doubleBackprop.ms.toFixed(1)} ms/product`);
    console.log(`  central difference ${m.finiteDifference.relativeError.toExponential(2)}   ${m.finiteDifference.ms.toFixed(1)} ms/product  (step ${m.finiteDifference.step.toPrecision(3)})`);
    console.log(`  Richardson         ${m.richardson.relativeError.toExponential(2)}   ${m.richardson.ms.toFixed(1)} ms/product  (step ${m.richardson.step.toPrecision(3)}; its own estimate ${m.richardson.estimate.toExponential(2)})`);
  };
  line(`small BERT, ${f.small.parameters} parameters`, f.small, "float64 hyper-dual H·v");
  line(`bert-tiny, ${f.bertTiny.parameters.toLocaleString("en-US")} parameters, after ${f.bertTiny.trainSteps} Adam steps, default task ${f.bertTiny.batch} × ${f.bertTiny.seqLen}`, f.bertTiny, "double back-prop");
  console.log(`  one gradient: ${f.bertTiny.gradientMs.toFixed(1)} ms`);
  const q = f.bertTiny.quadratic;
  const qRel = (x: number) => (Math.abs(x - f.bertTiny.float64Quadratic) / Math.abs(f.bertTiny.float64Quadratic)).toExponential(2);
  console.log(`  vᵀHv: float64 ${f.bertTiny.float64Quadratic.toPrecision(8)}; relative error: double back-prop ${qRel(q.doubleBackprop)}, ` +
    `central difference ${qRel(q.finiteDifference)}, Richardson ${qRel(q.richardson)}`);
  const ab = adamStepAB();
  const pct = (x: number) => `${((x / ab.stockMs - 1) * 100).toFixed(1)} %`;
  console.log(`Adam step of bert-tiny (${ab.shape.join(" × ")}), median of 10 interleaved: as trained ${ab.stockMs.toFixed(0)} ms; ` +
    `with the second-order gradients installed ${ab.secondOrderMs.toFixed(0)} ms (${pct(ab.secondOrderMs)}); ` +
    `with the former tf.logSoftmax loss ${ab.logSoftmaxMs.toFixed(0)} ms (${pct(ab.logSoftmaxMs)})`);
}
