/**
 * Directions in parameter space for loss landscapes, keyed by Hugging Face parameter name so that a
 * direction made on one model applies to any model with the same architecture (e.g. the Adam and the
 * FSAM fine-tunes of the same checkpoint):
 *
 * - {@link randomDirection}: seeded Gaussian, filter-normalised (Li et al., NeurIPS 2018, "Visualizing
 *   the Loss Landscape of Neural Nets"): each filter (row of an HF `[out, in]` weight, i.e. one output
 *   unit; slice along `filterAxis`) is rescaled to the norm of the matching filter of the weights;
 *   biases and LayerNorm parameters are zeroed (Li's `ignore="biasbn"`) or copied from the weights.
 * - {@link samDirection}: the SAM / ASAM / masked-FSAM perturbation e at radius ρ, computed exactly as
 *   lib/optim's SAM does (one global gradient norm, then the mask).
 * - {@link eigenvectorDirections}: the top Hessian eigenvectors (unit norm).
 * - {@link interpolationDirection}: `to − from` between two models (or snapshots).
 * - `pcaDirections` (trajectory.ts): the principal directions of a recorded training trajectory.
 *
 * A direction restricted to some blocks (`block` option) is zero elsewhere: the per-layer slice.
 * Parameters absent from a direction count as zero.
 */
import * as tf from "@tensorflow/tfjs";
import { squaredNorm } from "../backend/fused-ops.ts";
import { hfName } from "../names.ts";
import { blockOf } from "./blocks.ts";
import { deriveSeed, resolveSeed } from "./param-vector.ts";
import { gaussianArray } from "../counter-random.ts";
import { gradients, type HvpMethod } from "./hvp.ts";
import { hessianEigen, type EigenOptions } from "./hessian.ts";

/** One parameter's values on the host. */
export interface NamedArray {
  /** The parameter's shape. */
  shape: number[];
  /** Its values, row-major. */
  data: Float32Array;
}

/** Parameter values keyed by Hugging Face name (a model's weights at one moment, or a direction). */
export type WeightSnapshot = Map<string, NamedArray>;

/** How a direction was made. */
export type DirectionKind = "random" | "sam" | "fsam" | "asam" | "eigenvector" | "interpolation" | "pca" | "custom";

/** A direction in parameter space, keyed by HF parameter name. */
export interface Direction {
  /** Human-readable label, used as axis title. */
  label: string;
  /** How it was made. */
  kind: DirectionKind;
  /** The seed of a random direction. */
  seed?: number;
  /** Values per HF parameter name; missing parameters are zero. */
  values: WeightSnapshot;
}

/**
 * Copies the variables' values to the host, keyed by HF name (scope prefixes dropped). Reads with
 * `await data()`, so it works on every backend (webgpu included).
 */
export async function snapshotWeights(vars: readonly tf.Variable[]): Promise<WeightSnapshot> {
  const keys = new Set<string>();
  for (const v of vars) {
    const key = hfName(v.name);
    if (keys.has(key)) throw new Error(`snapshotWeights: two variables share the HF name ${key}; pass one model's variables`);
    keys.add(key);
  }
  const data = await Promise.all(vars.map((v) => v.data() as Promise<Float32Array>));
  return new Map(vars.map((v, i) => [hfName(v.name), { shape: v.shape.slice(), data: data[i].slice() }]));
}

/** Tensors aligned with `vars` (zeros where the direction has no entry); the caller disposes them. */
export function directionTensors(direction: Direction | WeightSnapshot, vars: readonly tf.Variable[]): tf.Tensor[] {
  const values = direction instanceof Map ? direction : direction.values;
  return vars.map((v) => {
    const entry = values.get(hfName(v.name));
    if (!entry) return tf.zerosLike(v);
    if (entry.shape.join(",") !== v.shape.join(",")) {
      throw new Error(`direction entry ${hfName(v.name)} has shape [${entry.shape}] but the variable has shape [${v.shape}]`);
    }
    return tf.tensor(entry.data, v.shape, "float32");
  });
}

/** The Euclidean norm of a direction over all its entries. */
export function directionNorm(direction: Direction | WeightSnapshot): number {
  const values = direction instanceof Map ? direction : direction.values;
  let s = 0;
  for (const { data } of values.values()) for (let i = 0; i < data.length; i++) s += data[i] * data[i];
  return Math.sqrt(s);
}

/** Splits a flat index range into filters: the number of filters along `axis` and each element's filter. */
function filterIndex(shape: readonly number[], axis: number): { count: number; of: (i: number) => number } {
  const a = axis < 0 ? shape.length + axis : axis;
  if (a < 0 || a >= shape.length) throw new Error(`option filterAxis ${axis} is out of range for shape [${shape}]`);
  const stride = shape.slice(a + 1).reduce((x, y) => x * y, 1);
  const count = shape[a];
  return { count, of: (i) => Math.floor(i / stride) % count };
}

/**
 * Filter normalisation: returns `d` with each filter (slice along `filterAxis`, default 0 = the rows
 * of an HF `[out, in]` weight) rescaled to the norm of the matching filter of `w`:
 * d_f ← d_f · ‖w_f‖ / (‖d_f‖ + 1e-10).
 */
export function filterNormalize(d: NamedArray, w: NamedArray, filterAxis = 0): Float32Array {
  if (d.shape.join(",") !== w.shape.join(",")) throw new Error(`filterNormalize: shapes [${d.shape}] and [${w.shape}] differ`);
  const { count, of } = filterIndex(d.shape, filterAxis);
  const dn = new Float64Array(count);
  const wn = new Float64Array(count);
  for (let i = 0; i < d.data.length; i++) {
    const f = of(i);
    dn[f] += d.data[i] * d.data[i];
    wn[f] += w.data[i] * w.data[i];
  }
  const factor = Array.from(dn, (x, f) => Math.sqrt(wn[f]) / (Math.sqrt(x) + 1e-10));
  return d.data.map((x, i) => x * factor[of(i)]);
}

/** A 32-bit FNV-1a hash of a string (so random directions depend on names, not variable order). */
function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** True when the variable's block id, layer id, HF name or tfjs name is in `blocks`. */
function inBlocks(name: string, blocks: readonly string[] | undefined): boolean {
  if (!blocks) return true;
  const info = blockOf(name);
  return blocks.some((b) => b === info.block || (info.layer !== null && b === `layer.${info.layer}`) || b === hfName(name) || b === name);
}

/** Normalises the `block` option to a list (or undefined for all variables). */
function blockList(block: string | readonly string[] | undefined): readonly string[] | undefined {
  return block === undefined ? undefined : typeof block === "string" ? [block] : block;
}

/** Options of {@link randomDirection}. */
export interface RandomDirectionOptions {
  /** Seed (default random; recorded in the direction). */
  seed?: number;
  /** Filter-normalise (default true); false gives a plain Gaussian direction. */
  filterNormalize?: boolean;
  /** Axis whose slices are the filters (default 0: rows of HF `[out, in]` weights). */
  filterAxis?: number;
  /** Biases and LayerNorm parameters: `zero` (default, Li's ignore="biasbn") or `weights` (copy w). */
  biases?: "zero" | "weights";
  /** Only these blocks / layers / parameter names get a nonzero direction (per-layer slices). */
  block?: string | readonly string[];
  /** Label (default "random direction (seed s)"). */
  label?: string;
}

/**
 * A seeded Gaussian direction, filter-normalised against the variables' current values (Li et al.
 * 2018). The same seed gives the same direction for any model with the same HF names and shapes
 * before normalisation. Reads the weights with `await data()` (works on webgpu).
 */
export async function randomDirection(vars: readonly tf.Variable[], options: RandomDirectionOptions = {}): Promise<Direction> {
  const seed = resolveSeed(options.seed);
  const biases = options.biases ?? "zero";
  if (biases !== "zero" && biases !== "weights") throw new Error(`option biases must be "zero" or "weights", got ${JSON.stringify(biases)}`);
  const blocks = blockList(options.block);
  const chosen = vars.filter((v) => inBlocks(v.name, blocks));
  const weights = await Promise.all(chosen.map((v) => v.data() as Promise<Float32Array>));
  const values: WeightSnapshot = new Map();
  for (const [i, v] of chosen.entries()) {
    const name = hfName(v.name);
    const w: NamedArray = { shape: v.shape.slice(), data: weights[i] };
    const oneDim = v.rank <= 1 || blockOf(v.name).biasOrNorm;
    if (oneDim) {
      values.set(name, { shape: w.shape, data: biases === "zero" ? new Float32Array(v.size) : w.data.slice() });
      continue;
    }
    const d: NamedArray = {
      shape: w.shape,
      data: gaussianArray(v.size, deriveSeed(seed, hashName(name))),
    };
    values.set(name, { shape: w.shape, data: options.filterNormalize === false ? d.data : filterNormalize(d, w, options.filterAxis ?? 0) });
  }
  if (blocks && values.size === 0) throw new Error(`randomDirection: no variable matches option block ${JSON.stringify(options.block)}`);
  return { label: options.label ?? `random direction (seed ${seed})`, kind: "random", seed, values };
}

/** Options of {@link samDirection}. */
export interface SamDirectionOptions {
  /** Perturbation radius ρ (default 0.05). */
  rho?: number;
  /** ASAM: scale by T = |w| + eta (default false). */
  adaptive?: boolean;
  /** ASAM's eta (default 0). */
  eta?: number;
  /**
   * FSAM mask per variable name (tfjs or HF name; e.g. `fsam.maskData`): e is multiplied by it after
   * the global normalisation, exactly as FisherSAM does. Variables without a mask keep their full e.
   */
  mask?: Map<string, Uint8Array>;
  /** Only these blocks get a perturbation; the norm is still taken over all `vars`. */
  block?: string | readonly string[];
  /** Guard added to the gradient norm (default 1e-12). */
  eps?: number;
  /** Label (default "SAM direction (ρ = …)"). */
  label?: string;
}

/**
 * The SAM perturbation e = ρ·T²g / ‖T g‖ at the current weights (T = 1 for SAM, |w| + η for ASAM),
 * multiplied by the FSAM mask when one is given, so that a landscape coordinate of 1 is exactly the
 * point where the optimizer evaluates its second gradient. Reads the gradient norm and the
 * perturbation with `await data()` (works on webgpu).
 */
export async function samDirection(loss: () => tf.Scalar, vars: readonly tf.Variable[], options: SamDirectionOptions = {}): Promise<Direction> {
  const rho = options.rho ?? 0.05;
  if (!(rho > 0)) throw new Error(`option rho must be positive, got ${rho}`);
  const eta = options.eta ?? 0;
  const eps = options.eps ?? 1e-12;
  const blocks = blockList(options.block);
  const grads = gradients(loss, vars);
  const values: WeightSnapshot = new Map();
  const chosen = vars.filter((v) => inBlocks(v.name, blocks));
  const scaled = tf.tidy(() => grads.map((g, i) => (options.adaptive ? tf.mul(tf.add(tf.abs(vars[i]), eta), g) : g)));
  const totalSquares = tf.tidy(() => tf.addN(scaled.map((t) => squaredNorm(t))));
  const owned = options.adaptive ? scaled : [];
  try {
    const total = Math.sqrt((await totalSquares.data())[0]);
    const factor = rho / (total + eps);
    const perturbation = tf.tidy(() => chosen.map((v) => {
      const i = vars.indexOf(v);
      const dir = options.adaptive ? tf.mul(tf.add(tf.abs(v), eta), scaled[i]) : scaled[i];
      return tf.mul(dir, factor);
    }));
    const read = await Promise.all(perturbation.map((t) => t.data() as Promise<Float32Array>));
    tf.dispose(perturbation);
    chosen.forEach((v, k) => {
      const data = read[k];
      const mask = options.mask?.get(v.name) ?? options.mask?.get(hfName(v.name));
      if (mask) {
        if (mask.length !== data.length) throw new Error(`option mask: ${v.name} has ${mask.length} entries for ${data.length} parameters`);
        for (let j = 0; j < data.length; j++) if (!mask[j]) data[j] = 0;
      }
      values.set(hfName(v.name), { shape: v.shape.slice(), data });
    });
  } finally {
    tf.dispose([totalSquares, ...owned, ...grads]);
  }
  const kind = options.mask ? "fsam" : options.adaptive ? "asam" : "sam";
  const name = kind === "fsam" ? "FSAM" : kind === "asam" ? "ASAM" : "SAM";
  return { label: options.label ?? `${name} direction (ρ = ${rho})`, kind, values };
}

/** The top Hessian eigenvectors as unit-norm directions, with their eigenvalues and the HVP method. */
export async function eigenvectorDirections(
  loss: () => tf.Scalar,
  vars: readonly tf.Variable[],
  options: EigenOptions = {},
): Promise<{ directions: Direction[]; values: number[]; method: HvpMethod }> {
  const res = await hessianEigen(loss, vars, { ...options, returnVectors: true });
  const read = await Promise.all((res.vectors ?? []).map((vec) => Promise.all(vec.map((t) => t.data() as Promise<Float32Array>))));
  const directions = (res.vectors ?? []).map((vec, j) => {
    const values: WeightSnapshot = new Map();
    vars.forEach((v, i) => values.set(hfName(v.name), { shape: v.shape.slice(), data: read[j][i].slice() }));
    tf.dispose(vec);
    return { label: `Hessian eigenvector ${j + 1} (λ = ${res.values[j].toPrecision(4)})`, kind: "eigenvector" as const, values };
  });
  return { directions, values: res.values, method: res.method };
}

/**
 * The line from one model to another: `to − from`, matched by HF name (both must hold the same
 * parameters with the same shapes). Evaluated at `from + α·(to − from)`: α = 0 is `from`, 1 is `to`.
 */
export async function interpolationDirection(
  from: readonly tf.Variable[] | WeightSnapshot,
  to: readonly tf.Variable[] | WeightSnapshot,
  options: { label?: string } = {},
): Promise<Direction> {
  const a = from instanceof Map ? from : await snapshotWeights(from);
  const b = to instanceof Map ? to : await snapshotWeights(to);
  const values: WeightSnapshot = new Map();
  for (const [name, x] of a) {
    const y = b.get(name);
    if (!y) throw new Error(`interpolationDirection: parameter ${name} is missing from the second model`);
    if (x.shape.join(",") !== y.shape.join(",")) throw new Error(`interpolationDirection: ${name} has shapes [${x.shape}] and [${y.shape}]`);
    values.set(name, { shape: x.shape, data: y.data.map((v, i) => v - x.data[i]) });
  }
  for (const name of b.keys()) if (!a.has(name)) throw new Error(`interpolationDirection: parameter ${name} is missing from the first model`);
  return { label: options.label ?? "interpolation (0 = first model, 1 = second)", kind: "interpolation", values };
}
