/** Probe for the plain JavaScript `cpu` backend, the fallback that is always available. */
import * as tf from "@tensorflow/tfjs";
import type { ProbeResult } from "./probe.ts";

/**
 * Activates the `cpu` backend.
 *
 * @throws Error if tfjs cannot activate it (a broken installation).
 */
export async function probeCpu(): Promise<ProbeResult> {
  if (!(await tf.setBackend("cpu"))) throw new Error(`tf.setBackend("cpu") failed`);
  return { device: "CPU (JavaScript)" };
}
