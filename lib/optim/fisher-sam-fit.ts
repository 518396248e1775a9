/**
 * FisherSAM under tfjs-layers' `model.fit`: a callback that makes each step's due mask refresh
 * before the step, reading the Fisher scores asynchronously. Required for on-time refreshes on
 * webgpu, where the refresh inside `minimize` cannot read synchronously (without the callback the
 * first step throws and later refreshes apply a step late, see `FisherSAM.beforeStep`); on wasm/cpu
 * it gives the same masks as the in-step refresh.
 */
import * as tf from "@tensorflow/tfjs";
import type { FisherSAM } from "./fisher-sam.ts";

/**
 * `model.fit(x, y, { callbacks: [new FisherSAMFitCallback(fsam)] })`: before every batch, awaits
 * `fsam.prepareStep` over the model's trainable weights (the variables `fit` hands to `minimize`).
 */
export class FisherSAMFitCallback extends tf.Callback {
  /** @param fsam the optimizer compiled into the model. */
  constructor(readonly fsam: FisherSAM) {
    super();
  }

  /** Makes the refresh the coming step is due for, reading asynchronously. */
  override async onBatchBegin(): Promise<void> {
    await this.fsam.prepareStep(this.model.trainableWeights.map((w) => w.read() as tf.Variable));
  }
}
