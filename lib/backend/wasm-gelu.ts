/**
 * GELU (the exact erf form, Hugging Face's "gelu") and its backward pass as two fused wasm kernels
 * over lib/backend/wasm-simd.ts's SIMD code, in place of the ten-odd element-wise kernels (mul, erf,
 * add, exp, square …) that tfjs runs for `0.5·x·(1 + erf(x/√2))` forward and backward. Φ(x) is
 * computed as ½·erfc(|x|/√2) (or 1 minus it) from a fitted erfcx and a Taylor exp, within a few
 * float32 ulps of the exact value, and without the cancellation of 1 + erf(z) for negative x that
 * makes the op chain's GELU lose most of its digits below x ≈ −4 (tested against float64).
 *
 * {@link GELU}'s gradient is {@link GELU_GRAD}; {@link GELU_GRAD}'s own gradient is written with tfjs
 * ops (GELU″(x) = φ(x)·(2 − x²)), so Hessian-vector products by double back-propagation and higher
 * derivatives work through the fused kernels.
 */
import * as tf from "@tensorflow/tfjs";
import { heapAddress, sizeOf, type WasmBackendLike } from "./kernel-patch.ts";
import type { SimdKernels } from "./wasm-simd.ts";

/** The forward kernel's name: `runKernel(GELU, {x})` → y. */
export const GELU = "FsamGelu";
/** The backward kernel's name: `runKernel(GELU_GRAD, {x, dy})` → dy·GELU′(x). */
export const GELU_GRAD = "FsamGeluGrad";

/** The forward kernel function over `kernels`. */
export function geluKernel(kernels: SimdKernels): tf.KernelFunc {
  return ({ inputs, backend }) => {
    const x = inputs.x as tf.TensorInfo;
    const wasm = backend as unknown as WasmBackendLike;
    const y = wasm.makeOutput(x.shape, "float32");
    kernels.gelu(heapAddress(wasm, x), heapAddress(wasm, y), sizeOf(x.shape));
    return y;
  };
}

/** The backward kernel function over `kernels`. */
export function geluGradKernel(kernels: SimdKernels): tf.KernelFunc {
  return ({ inputs, backend }) => {
    const { x, dy } = inputs as Record<"x" | "dy", tf.TensorInfo>;
    const wasm = backend as unknown as WasmBackendLike;
    const dx = wasm.makeOutput(x.shape, "float32");
    kernels.geluGrad(heapAddress(wasm, x), heapAddress(wasm, dy), heapAddress(wasm, dx), sizeOf(x.shape));
    return dx;
  };
}

/** Registers the gradients of {@link GELU} and {@link GELU_GRAD} (for every backend that has the kernels). */
export function registerGeluGradients(): void {
  tf.registerGradient({
    kernelName: GELU,
    inputsToSave: ["x"],
    gradFunc: (dy, saved) => ({ x: () => tf.engine().runKernel(GELU_GRAD, { x: saved[0], dy: dy as tf.Tensor }) as tf.Tensor }),
  });
  tf.registerGradient({
    kernelName: GELU_GRAD,
    inputsToSave: ["x", "dy"],
    gradFunc: (ddx, saved) => {
      const [x, dy] = saved;
      return {
        // d(dy·GELU′(x))/d(dy) = GELU′(x); d/dx = dy·GELU″(x), GELU″(x) = φ(x)·(2 − x²).
        dy: () => tf.engine().runKernel(GELU_GRAD, { x, dy: ddx as tf.Tensor }) as tf.Tensor,
        x: () => {
          const phi = tf.mul(tf.exp(tf.mul(tf.square(x), -0.5)), 1 / Math.sqrt(2 * Math.PI));
          return tf.mul(tf.mul(ddx as tf.Tensor, dy), tf.mul(phi, tf.sub(2, tf.square(x))));
        },
      };
    },
  });
}
