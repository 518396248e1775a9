/**
 * FSAM's mask refresh reads the Fisher scores back from the device. The library's `updateMask`
 * reads them synchronously, which tfjs-webgpu cannot do in Node; issue 9 (item 3, the `gpu` branch)
 * adds `prepareStep` (the due refresh, read asynchronously, before each `minimize`) and
 * `updateMaskAsync`. The kit calls those where the library has them, so it runs before and after
 * that change lands; without them FSAM fails on webgpu with the library's own error, which the
 * kit reports.
 */
import type * as tf from "@tensorflow/tfjs";
import type { FisherSAM } from "../lib/optim/fisher-sam.ts";

/** FisherSAM's refresh entry points, the asynchronous ones optional. */
interface RefreshEntryPoints {
  prepareStep?(varList?: tf.Variable[]): Promise<void>;
  updateMaskAsync?(varList?: tf.Variable[]): Promise<void>;
  updateMask(varList?: tf.Variable[]): void;
}

/** Before a step: makes the refresh that step is due for, asynchronously, where the library can. */
export async function prepareFsamStep(fisher: FisherSAM | undefined, vars: tf.Variable[]): Promise<void> {
  await (fisher as RefreshEntryPoints | undefined)?.prepareStep?.(vars);
}

/** Refreshes the mask now, asynchronously where the library can. */
export async function refreshFsamMask(fisher: FisherSAM, vars: tf.Variable[]): Promise<void> {
  const entry = fisher as unknown as RefreshEntryPoints;
  if (entry.updateMaskAsync) await entry.updateMaskAsync(vars);
  else entry.updateMask(vars);
}
