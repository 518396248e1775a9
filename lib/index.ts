/**
 * fsam-lab: the public API of the FSAM Lab library.
 *
 * Fisher SAM (Zhong et al., EMNLP 2022 Findings, arXiv 2210.05497) and the SAM family on tfjs,
 * BERT models and GLUE/SuperGLUE data, inspection tools (Fisher-mask atlas, sharpness, landscapes)
 * and Plotly figure builders.
 */

export * from "./types.ts";
export * from "./names.ts";
export { mulberry32, shuffled, type Random } from "./random.ts";

// --- backend ---
export * from "./backend.ts";
export { WebGPUError } from "./backend/webgpu-errors.ts";
export { canReadSync } from "./backend/read.ts";

// --- optim ---
export * from "./optim/options.ts";
export { topKMask, type TopKMaskResult } from "./optim/topk.ts";
export { computeFisher, computeFisherAsync } from "./optim/fisher.ts";
export { SAM, type PerturbationMask } from "./optim/sam.ts";
export * from "./optim/fisher-sam.ts";
export { FisherSAMFitCallback } from "./optim/fisher-sam-fit.ts";
export type { ESAMOptions, ESAMSamplingOptions, FisherESAMOptions, WeightSampling } from "./optim/esam-options.ts";
export { ESAM, FisherESAM, type ESAMLoss, type PerExampleLoss, type WeightSamplingStats } from "./optim/esam.ts";
export { authorsMaskable, maskablePredicate, type MaskableRule, type MaskableRuleName } from "./optim/maskable.ts";

// --- models ---
export { bertPresets, isBertPresetName, parseBertConfig, readBertConfig, resolveBertConfig, type BertActivation, type BertConfig, type BertPreset, type BertPresetName } from "./models/config.ts";
export type { BertInputs, BertOutputs } from "./models/bert.ts";
export { BertForSequenceClassification, createBertClassifier, type BertClassifierOptions, type CheckpointReport } from "./models/classifier.ts";
export { encodeSafetensors, parseSafetensors, readSafetensorsFile, writeSafetensorsFile, type SafetensorsContents, type SafetensorsDtype, type SafetensorsEntry, type SafetensorsTensor, type SafetensorsWriteDtype } from "./models/safetensors.ts";
export * from "./models/checkpoint.ts";
export { downloadModel, modelCacheDir, type DownloadModelOptions, type DownloadResult } from "./models/hub.ts";
export type { DownloadedFile, DownloadProgress, TransferOptions } from "./download.ts";
export { parseTorchCheckpoint, readTorchCheckpoint, type TorchCheckpoint, type TorchTensorEntry } from "./models/torch-checkpoint.ts";
export { readModelWeights } from "./models/weight-files.ts";
export type { TensorInfo, TensorSource } from "./models/tensor-source.ts";
export { withAutodiffOps } from "./models/analytic-ops.ts";

// --- data ---
export * from "./data/tokenizer.ts";
export * from "./data/tasks.ts";
export * from "./data/readers.ts";
export * from "./data/batches.ts";
export { sortByEncodedLength } from "./data/length-order.ts";
export * from "./data/sampling.ts";
export * from "./data/metrics.ts";
export * from "./data/dataframe.ts";
export * from "./data/glue-download.ts";
export * from "./data/default-task.ts";
export { DEFAULT_TASK_OPTIONS, generateDefaultTask, writeDefaultTask, type DefaultTaskOptions, type GeneratedDefaultTask } from "./data/default-task-generator.ts";

// --- train ---
export * from "./train/schedule.ts";
export * from "./train/adamw.ts";
export { GradientClipping, clipByGlobalNorm, globalNorm } from "./train/clip.ts";
export { optimizerNames, type OptimizerName } from "./train/optimizer-names.ts";
export * from "./train/optimizers.ts";
export { fsamPaperLearningRates, presetNames, presetOptions, withPreset, type PresetName, type PresetOptions } from "./train/presets.ts";
export * from "./train/history.ts";
export * from "./train/history-frame.ts";
export * from "./train/evaluate.ts";
export type { EarlyStopping, MaskRefreshRecord, MaskRefreshSource, StepInfo } from "./train/loop.ts";
export { perExampleLoss } from "./train/per-example-loss.ts";
export { DivergenceError, type Divergence, type DivergencePolicy } from "./train/divergence.ts";
export { evaluateModel, train, type LowResource, type TaskData, type TrainOptions, type TrainResult } from "./train/train.ts";
export { compare, comparisonOf, type CompareOptions, type CompareResult, type CompareRun, type CompareSummaryRow } from "./train/compare.ts";
export { readResults, type ResultsFile, type RunRecord } from "./train/results-file.ts";

// --- inspect ---
export type { LongRunOptions, ProgressCallback, ProgressEvent } from "./inspect/progress.ts";
export * from "./inspect/blocks.ts";
export { createHvp, type HessianVectorProduct, type HvpMethod, type HvpOptions } from "./inspect/hvp.ts";
export { withSecondOrderGradients } from "./inspect/second-order-gradients.ts";
export * from "./inspect/hessian.ts";
export * from "./inspect/sam-sharpness.ts";
export * from "./inspect/directions.ts";
export * from "./inspect/direction-file.ts";
export * from "./inspect/landscape.ts";
export { pcaDirections, recordTrajectory, type PcaDirectionsOptions, type RecordTrajectoryOptions, type TrajectoryPca, type TrajectoryRecorder } from "./inspect/trajectory.ts";
export * from "./inspect/fisher-atlas.ts";
export * from "./inspect/churn.ts";
export * from "./inspect/criteria.ts";
export { hessianEigenvaluesLanczos, type LanczosEigenOptions, type LanczosEigenResult } from "./inspect/lanczos.ts";
export { gaussianSpectralDensity, hessianSpectralDensity, type SpectralDensityOptions, type SpectralDensityResult, type SpectralDensityRun } from "./inspect/spectral-density.ts";

// --- plot ---
export * from "./plot/figure.ts";
export * from "./plot/atlas.ts";
export * from "./plot/landscape.ts";
export * from "./plot/sharpness.ts";
export * from "./plot/training.ts";
export * from "./plot/spectrum.ts";
