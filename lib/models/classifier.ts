/**
 * BERT with a sequence-classification head, as Hugging Face's `BertForSequenceClassification`:
 * dropout and a linear layer on the pooled output; cross-entropy over `numLabels` classes, or mean
 * squared error when `numLabels` is 1 (regression, e.g. STS-B).
 */
import * as tf from "@tensorflow/tfjs";
import type { EncodedBatch, LossReduction, SequenceModel } from "../types.ts";
import { type BertConfig, type BertPresetName, resolveBertConfig } from "./config.ts";
import { type BertOutputs, bertEncode, bertParameterSpecs } from "./bert.ts";
import { type ParameterSpec, initialValue } from "./init.ts";
import { dropout, linear } from "./ops.ts";
import { chooseScope, createNamedVariables } from "./variables.ts";
import { mulberry32 } from "../random.ts";
import { checkPositiveInt } from "../check.ts";

/** What loading a checkpoint did, by Hugging Face parameter name (see checkpoint.ts). */
export interface CheckpointReport {
  /** Model parameters the checkpoint lacks (they keep their fresh initialisation). */
  missing: string[];
  /** Checkpoint tensors the model has no parameter for (ignored). */
  unexpected: string[];
  /** Parameters whose checkpoint shape differs from the model's (kept freshly initialised). */
  mismatched: { name: string; checkpointShape: number[]; modelShape: number[] }[];
  /** Every parameter left freshly initialised: missing and mismatched ones. */
  initialized: string[];
}

/** Options of {@link createBertClassifier}. */
export interface BertClassifierOptions {
  /** Number of classes, or 1 for regression (MSE). Default 2. */
  numLabels?: number;
  /** Seed of the initialisation and of the dropout masks. Default 0. */
  seed?: number;
  /** Variable-name scope; default: none, or `m2`, `m3`, … when the names are taken. */
  scope?: string;
}

/** The classification head's parameters. */
export function classifierParameterSpecs(config: BertConfig, numLabels: number): ParameterSpec[] {
  return [
    { name: "classifier.weight", shape: [numLabels, config.hidden_size], init: "normal" },
    { name: "classifier.bias", shape: [numLabels], init: "zeros" },
  ];
}

/** A stream of dropout seeds (31-bit integers) drawn by mulberry32. */
function seedStream(seed: number): () => number {
  const random = mulberry32((seed ^ 0x9e3779b9) >>> 0);
  return () => (random() * 2 ** 32) & 0x7fffffff;
}

function checkNumLabels(numLabels: number): void {
  checkPositiveInt("numLabels", numLabels);
}

/**
 * BERT encoder + classification/regression head. Every weight is a trainable `tf.Variable` named
 * with its Hugging Face parameter name (prefixed `scope/` when the model has a scope).
 */
export class BertForSequenceClassification implements SequenceModel {
  /** The validated configuration. */
  readonly config: BertConfig;
  /** Number of classes, or 1 for regression. */
  readonly numLabels: number;
  /** Variable-name scope ("" for none). */
  readonly scope: string;
  /** All trainable variables, in Hugging Face order (encoder, pooler, classifier). */
  readonly variables: tf.Variable[];
  /** What loading a checkpoint did; undefined for a freshly initialised model. */
  checkpointReport: CheckpointReport | undefined;
  private readonly byName: Map<string, tf.Variable>;
  private readonly nextDropoutSeed: () => number;
  private disposed = false;

  /**
   * Creates the model's variables. `initial(spec)` gives each parameter's starting value (a tensor
   * the constructor disposes), or undefined for the seeded default initialisation.
   */
  constructor(
    config: BertConfig,
    options: { numLabels: number; seed: number; scope?: string },
    initial: (spec: ParameterSpec) => tf.Tensor | undefined = () => undefined,
  ) {
    checkNumLabels(options.numLabels);
    this.config = config;
    this.numLabels = options.numLabels;
    const specs = [...bertParameterSpecs(config), ...classifierParameterSpecs(config, options.numLabels)];
    this.scope = chooseScope(
      specs.map((s) => s.name),
      options.scope,
    );
    const values = new Map<string, tf.Tensor>();
    try {
      for (const spec of specs) {
        values.set(spec.name, initial(spec) ?? initialValue(spec, config.initializer_range, options.seed));
      }
      this.byName = createNamedVariables(values, this.scope);
    } finally {
      for (const v of values.values()) v.dispose();
    }
    this.variables = [...this.byName.values()];
    this.nextDropoutSeed = seedStream(options.seed);
  }

  /** The variable holding the parameter with this Hugging Face name; throws when there is none. */
  variable(hfName: string): tf.Variable {
    const v = this.byName.get(hfName);
    if (v === undefined) throw new Error(`model has no parameter "${hfName}"`);
    return v;
  }

  /** Hugging Face names of all parameters, in order. */
  parameterNames(): string[] {
    return [...this.byName.keys()];
  }

  /** Total number of weights. */
  parameterCount(): number {
    return this.variables.reduce((n, v) => n + v.size, 0);
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error("this BertForSequenceClassification was disposed");
  }

  /**
   * Encoder outputs (last hidden states and pooled [CLS]); dropout only when `training`. Call it
   * inside `tf.tidy` (or a gradient function): its intermediate tensors are not freed here.
   */
  encode(batch: EncodedBatch, options: { training?: boolean } = {}): BertOutputs {
    this.checkAlive();
    return bertEncode(
      this.config,
      (name) => this.variable(name),
      batch,
      options.training ? this.nextDropoutSeed : undefined,
    );
  }

  /** Logits `[batch, numLabels]`; dropout only when `training`. */
  logits(batch: EncodedBatch, options: { training?: boolean } = {}): tf.Tensor2D {
    return tf.tidy(() => {
      const { pooledOutput } = this.encode(batch, options);
      const rate = this.config.classifier_dropout ?? this.config.hidden_dropout_prob;
      const pooled = options.training ? dropout(pooledOutput, rate, this.nextDropoutSeed()) : pooledOutput;
      return linear(
        pooled,
        this.variable("classifier.weight") as tf.Tensor as tf.Tensor2D,
        this.variable("classifier.bias") as tf.Tensor as tf.Tensor1D,
      );
    });
  }

  /**
   * Mean cross-entropy (or MSE when `numLabels` is 1) of the batch; needs `batch.labels` (class ids
   * in 0..numLabels-1, not checked here to avoid a device read; or regression targets). With
   * `reduction: "none"`, the per-example losses `[batch]` (cross-entropy or squared error) instead.
   */
  loss(batch: EncodedBatch, options?: { training?: boolean; reduction?: "mean" }): tf.Scalar;
  loss(batch: EncodedBatch, options: { training?: boolean; reduction: "none" }): tf.Tensor1D;
  loss(batch: EncodedBatch, options: { training?: boolean; reduction?: LossReduction } = {}): tf.Scalar | tf.Tensor1D {
    const labels = batch.labels;
    if (labels === undefined) throw new Error("loss() needs batch.labels");
    if (labels.shape[0] !== batch.inputIds.shape[0]) {
      throw new Error(`batch.labels has ${labels.shape[0]} entries for a batch of ${batch.inputIds.shape[0]}`);
    }
    const reduction = options.reduction ?? "mean";
    if (reduction !== "mean" && reduction !== "none") {
      throw new Error(`loss(): reduction must be "mean" or "none", got ${String(reduction)}`);
    }
    return tf.tidy(() => this.lossFromLogits(this.logits(batch, options), labels, reduction));
  }

  /**
   * The loss of {@link BertForSequenceClassification.loss} from logits already computed for the
   * batch (e.g. by an evaluation that also needs the predictions): the same operations, so the same
   * value, without a second forward pass. Call it inside `tf.tidy`.
   */
  lossFromLogits(logits: tf.Tensor2D, labels: tf.Tensor1D, reduction?: "mean"): tf.Scalar;
  lossFromLogits(logits: tf.Tensor2D, labels: tf.Tensor1D, reduction: "none"): tf.Tensor1D;
  lossFromLogits(logits: tf.Tensor2D, labels: tf.Tensor1D, reduction?: LossReduction): tf.Scalar | tf.Tensor1D;
  lossFromLogits(logits: tf.Tensor2D, labels: tf.Tensor1D, reduction: LossReduction = "mean"): tf.Scalar | tf.Tensor1D {
    if (this.numLabels === 1) {
      const squared = tf.square(tf.sub(tf.reshape(logits, [-1]), tf.cast(labels, "float32"))) as tf.Tensor1D;
      return reduction === "none" ? squared : (tf.mean(squared) as tf.Scalar);
    }
    const oneHot = tf.oneHot(tf.cast(labels, "int32"), this.numLabels);
    // logits − logSumExp rather than tf.logSoftmax, a customGrad tfjs cannot differentiate twice
    // (lib/inspect/second-order-gradients.ts); same value, and exact Hessian-vector products.
    const logProbs = tf.sub(logits, tf.logSumExp(logits, 1, true));
    const logLikelihood = tf.sum(tf.mul(oneHot, logProbs), 1) as tf.Tensor1D;
    return reduction === "none" ? tf.neg(logLikelihood) : (tf.neg(tf.mean(logLikelihood)) as tf.Scalar);
  }

  /** Frees the variables (and their names, which a new model may then take). Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.variables) v.dispose();
  }
}

/**
 * A freshly initialised BERT classifier from a preset name ("bert-tiny", …), a config, or a partial
 * config (missing fields take Hugging Face defaults).
 */
export function createBertClassifier(
  config: BertPresetName | Partial<BertConfig>,
  options: BertClassifierOptions = {},
): BertForSequenceClassification {
  return new BertForSequenceClassification(resolveBertConfig(config), {
    numLabels: options.numLabels ?? 2,
    seed: options.seed ?? 0,
    scope: options.scope,
  });
}
