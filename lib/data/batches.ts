/**
 * Tokenized tensor mini-batches: examples are (optionally) shuffled by seed, cut into batches,
 * encoded and padded to the longest sequence of each batch, and handed out as `EncodedBatch`
 * tensors (int32 ids; int32 class labels or float32 regression targets).
 */
import * as tf from "@tensorflow/tfjs";
import type { EncodedBatch, Example } from "../types.ts";
import { mulberry32, shuffled } from "../random.ts";
import { getTask, type TaskSpec } from "./tasks.ts";
import type { BertTokenizer } from "./tokenizer.ts";
import { checkPositiveInt } from "../check.ts";

/** Options of {@link encodeExamples}. */
export interface EncodeExamplesOptions {
  /** Longest sequence, special tokens included; longer inputs are cut longest-first. Default 128. */
  maxLength?: number;
  /**
   * Label dtype: float32 targets when true (regression), int32 class ids when false. Defaults to
   * the task's `isRegression` when `task` is given, else to "some label is not an integer".
   */
  regression?: boolean;
  /** The task, used to pick the label dtype. */
  task?: TaskSpec | string;
  /** Attach labels (default true); false for unlabeled prediction batches. */
  labels?: boolean;
}

/** Options of {@link batches}. */
export interface BatchOptions extends EncodeExamplesOptions {
  /** Examples per batch. */
  batchSize: number;
  /** Shuffle the examples before batching. Default false. */
  shuffle?: boolean;
  /** Seed of the shuffle (default 0); the same seed gives the same order. */
  seed?: number;
  /** Leave out the last batch when it is smaller than `batchSize`. Default false. */
  dropLast?: boolean;
}

/** The batches of a dataset: iterable (again and again, same order) and with a known count. */
export interface BatchIterable extends Iterable<EncodedBatch> {
  /** Number of batches one pass yields. */
  readonly length: number;
  /** The examples in the order they are batched. */
  readonly examples: readonly Example[];
}

/** Resolves whether labels are regression targets. */
function isRegression(examples: readonly Example[], options: EncodeExamplesOptions): boolean {
  if (options.regression !== undefined) return options.regression;
  if (options.task !== undefined) return (typeof options.task === "string" ? getTask(options.task) : options.task).isRegression;
  return examples.some((e) => !Number.isInteger(e.label));
}

/**
 * Encodes examples into one `EncodedBatch`, padded to the longest of them. The caller owns (and
 * must dispose) the returned tensors.
 */
export function encodeExamples(examples: readonly Example[], tokenizer: BertTokenizer, options: EncodeExamplesOptions = {}): EncodedBatch {
  if (examples.length === 0) throw new Error("encodeExamples: no examples");
  const maxLength = options.maxLength ?? 128;
  const encodings = tokenizer.encodeBatch(examples, { maxLength, truncation: "longest_first", padding: "longest" });
  const b = encodings.length;
  const seq = encodings[0]!.inputIds.length;
  const ids = new Int32Array(b * seq);
  const types = new Int32Array(b * seq);
  const mask = new Int32Array(b * seq);
  encodings.forEach((e, i) => {
    ids.set(e.inputIds, i * seq);
    types.set(e.tokenTypeIds, i * seq);
    mask.set(e.attentionMask, i * seq);
  });
  const batch: EncodedBatch = {
    inputIds: tf.tensor2d(ids, [b, seq], "int32"),
    tokenTypeIds: tf.tensor2d(types, [b, seq], "int32"),
    attentionMask: tf.tensor2d(mask, [b, seq], "int32"),
  };
  if (options.labels ?? true) {
    const regression = isRegression(examples, options);
    const labels = examples.map((e) => e.label);
    if (!regression) {
      const bad = labels.find((l) => !Number.isInteger(l) || l < 0);
      if (bad !== undefined) throw new Error(`encodeExamples: class label ${bad} is not a non-negative integer (pass regression: true for real-valued targets)`);
    }
    batch.labels = regression ? tf.tensor1d(labels, "float32") : tf.tensor1d(Int32Array.from(labels), "int32");
  }
  return batch;
}

/**
 * Cuts `examples` into tokenized batches, shuffled by `seed` when `shuffle` is set. Each batch is
 * created when the iterator reaches it; the consumer disposes its tensors (e.g. with
 * `tf.dispose(Object.values(batch))`).
 */
export function batches(examples: readonly Example[], tokenizer: BertTokenizer, options: BatchOptions): BatchIterable {
  const { batchSize } = options;
  checkPositiveInt("batches: batchSize", batchSize);
  const ordered = options.shuffle ? shuffled(examples, mulberry32(options.seed ?? 0)) : examples.slice();
  const full = Math.floor(ordered.length / batchSize);
  const length = options.dropLast || ordered.length % batchSize === 0 ? full : full + 1;
  const encodeOptions: EncodeExamplesOptions = { ...options, regression: isRegression(examples, options) };
  return {
    length,
    examples: ordered,
    *[Symbol.iterator]() {
      for (let i = 0; i < length; i++) yield encodeExamples(ordered.slice(i * batchSize, (i + 1) * batchSize), tokenizer, encodeOptions);
    },
  };
}
