/**
 * fsam-lab: the public API of the FSAM Lab library.
 *
 * Fisher SAM (Zhong et al., EMNLP 2022 Findings, arXiv 2210.05497) and the SAM family on tfjs,
 * BERT models and GLUE/SuperGLUE data, inspection tools (Fisher-mask atlas, sharpness, landscapes)
 * and Plotly figure builders.
 */

export * from "./host.ts";
export * from "./types.ts";
export * from "./names.ts";
export * from "./random.ts";
export * from "./counter-random.ts";
export * from "./atomic-write.ts";
export * from "./engine-repair.ts";

// --- backend ---
export * from "./backend.ts";
export * from "./backend/wasm-matmul.ts";
export { WebGPUError } from "./backend/webgpu-errors.ts";
export { throwPendingWebgpuErrors } from "./backend/webgpu-backend.ts";
export { canReadSync } from "./backend/read.ts";

// --- optim ---
export * from "./optim/options.ts";
export * from "./optim/topk.ts";
export * from "./optim/fisher.ts";
export * from "./optim/sam.ts";
export * from "./optim/fisher-sam.ts";
export * from "./optim/fisher-sam-fit.ts";
export * from "./optim/esam-options.ts";
export * from "./optim/esam.ts";
export * from "./optim/maskable.ts";

// --- models ---
export * from "./models/config.ts";
export * from "./models/init.ts";
export * from "./models/bert.ts";
export * from "./models/classifier.ts";
export * from "./models/safetensors.ts";
export * from "./models/checkpoint.ts";
export * from "./models/hub.ts";
export { parseTorchCheckpoint, readTorchCheckpoint, type TorchCheckpoint, type TorchTensorEntry } from "./models/torch-checkpoint.ts";
export { WEIGHT_FILES, readModelWeights } from "./models/weight-files.ts";
export type { TensorInfo, TensorSource } from "./models/tensor-source.ts";

// --- data ---
export * from "./data/tokenizer.ts";
export * from "./data/tasks.ts";
export * from "./data/readers.ts";
export * from "./data/batches.ts";
export * from "./data/sampling.ts";
export * from "./data/metrics.ts";
export * from "./data/dataframe.ts";
export * from "./data/glue-download.ts";
export * from "./data/default-task.ts";
export * from "./data/default-task-generator.ts";

// --- train ---
export * from "./train/schedule.ts";
export * from "./train/adamw.ts";
export * from "./train/clip.ts";
export * from "./train/optimizer-names.ts";
export * from "./train/optimizers.ts";
export * from "./train/presets.ts";
export * from "./train/history.ts";
export * from "./train/history-frame.ts";
export * from "./train/progress.ts";
export * from "./train/evaluate.ts";
export * from "./train/loop.ts";
export * from "./train/per-example-loss.ts";
export * from "./train/divergence.ts";
export * from "./train/checkpointing.ts";
export * from "./train/train.ts";
export * from "./train/compare.ts";
export * from "./train/results-file.ts";

// --- inspect ---
export * from "./inspect/progress.ts";
export * from "./inspect/blocks.ts";
export * from "./inspect/hvp.ts";
export * from "./inspect/second-order-gradients.ts";
export * from "./inspect/sharpness.ts";
export * from "./inspect/sam-sharpness.ts";
export * from "./inspect/directions.ts";
export * from "./inspect/direction-file.ts";
export * from "./inspect/landscape.ts";
export * from "./inspect/trajectory.ts";
export * from "./inspect/fisher.ts";
export * from "./inspect/churn.ts";
export * from "./inspect/criteria.ts";
export * from "./inspect/lanczos.ts";

// --- plot ---
export * from "./plot/figure.ts";
export * from "./plot/atlas.ts";
export * from "./plot/landscape.ts";
export * from "./plot/sharpness.ts";
export * from "./plot/training.ts";
export * from "./plot/spectrum.ts";
