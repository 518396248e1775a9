/**
 * Training trajectories and their PCA plane (Li et al., NeurIPS 2018, "Visualizing the Loss Landscape
 * of Neural Nets", §7):
 *
 * - {@link recordTrajectory}: a recorder whose `onStep` (a `train` callback) copies the weights to the
 *   host every N steps, keyed by HF name like every other {@link WeightSnapshot};
 * - {@link pcaDirections}: the principal directions of the recorded snapshots around an origin
 *   (usually the final weights). Random directions in a high-dimensional space are nearly orthogonal
 *   to any trajectory, so a path projected onto a random plane barely moves; the top PCA directions
 *   of the matrix [θ₀ − θₙ; …; θₙ₋₁ − θₙ] are the plane the path actually lies closest to.
 *
 * Project the snapshots onto the directions with `projectTrajectory` (landscape.ts), evaluate the
 * plane with `landscape2D`, and draw both with `landscapeContour` / `landscapeSurface`.
 */
import type * as tf from "@tensorflow/tfjs";
import { type Direction, type WeightSnapshot, snapshotWeights } from "./directions.ts";
import { checkPositiveInt } from "../check.ts";
import { symmetricEigen } from "./linalg.ts";

/** Options of {@link recordTrajectory}. */
export interface RecordTrajectoryOptions {
  /** Record after every `every`-th step (steps `every`, `2·every`, …). Default 10. */
  every?: number;
  /** Record the weights as they are now (step 0) when the recorder is created. Default true. */
  includeStart?: boolean;
}

/** Weight snapshots taken during training; see {@link recordTrajectory}. */
export interface TrajectoryRecorder {
  /**
   * The step callback: records a snapshot when `row.step` is a multiple of `every` and differs from
   * the last recorded step. Bound, so it can be passed directly as `train({ onStep: recorder.onStep })`
   * or called from another callback (await it: the weights are read with `await data()`).
   */
  readonly onStep: (row: { step: number }) => Promise<void>;
  /** Records the variables' current values now, as step `step` (e.g. the final weights after training); resolves with the snapshot. A snapshot already recorded at the same step as the last one is replaced. */
  readonly snapshot: (step: number) => Promise<WeightSnapshot>;
  /** The snapshots, in the order taken (host copies: Float32Arrays, no tensors). */
  readonly snapshots: WeightSnapshot[];
  /** The step of each snapshot (0 = before training). */
  readonly steps: number[];
  /** The recording interval in steps. */
  readonly every: number;
}

/**
 * A recorder of the training trajectory of `vars`: every `every` steps its `onStep` copies the
 * variables to the host (one full copy of the weights per snapshot, so choose `every` for memory:
 * bert-base is ~440 MB a snapshot). With `includeStart` (default) the weights at creation are
 * recorded as step 0 before the recorder resolves. Creates no tensors; reads the weights with
 * `await data()`, so it works on every backend (webgpu included).
 *
 * ```ts
 * const model = createBertClassifier("bert-tiny", { seed: 1 });
 * const trajectory = await recordTrajectory(model.variables, { every: 10 });
 * const run = await train({ model, optimizer: "fsam", onStep: trajectory.onStep });
 * await trajectory.snapshot(run.rows.length); // the final weights
 * ```
 */
export async function recordTrajectory(vars: readonly tf.Variable[], options: RecordTrajectoryOptions = {}): Promise<TrajectoryRecorder> {
  const every = options.every ?? 10;
  checkPositiveInt("recordTrajectory: option every", every);
  if (!Array.isArray(vars) || vars.length === 0) throw new Error("recordTrajectory: vars is empty; pass the model's variables (model.variables)");
  const snapshots: WeightSnapshot[] = [];
  const steps: number[] = [];
  const snapshot = async (step: number): Promise<WeightSnapshot> => {
    if (!Number.isInteger(step) || step < 0) throw new Error(`recordTrajectory: step must be a non-negative integer, got ${step}`);
    const snap = await snapshotWeights(vars);
    if (steps.length > 0 && steps[steps.length - 1] === step) snapshots[snapshots.length - 1] = snap;
    else {
      snapshots.push(snap);
      steps.push(step);
    }
    return snap;
  };
  const onStep = async (row: { step: number }): Promise<void> => {
    const step = row?.step;
    if (typeof step !== "number" || !Number.isInteger(step)) throw new Error(`recordTrajectory: onStep expects a history row with an integer step, got ${JSON.stringify(row)}`);
    if (step % every === 0 && steps[steps.length - 1] !== step) await snapshot(step);
  };
  if (options.includeStart ?? true) await snapshot(0);
  return { onStep, snapshot, snapshots, steps, every };
}

/** Options of {@link pcaDirections}. */
export interface PcaDirectionsOptions {
  /** Number of principal directions. Default 2. */
  components?: number;
  /**
   * Subtract the mean of the rows (snapshot − origin) first, as scikit-learn's PCA (used by Li et al.'s
   * code) does. Default false: the principal directions of the displacements from the origin
   * themselves, so a trajectory on a line or plane through the origin is recovered exactly.
   */
  center?: boolean;
}

/** What {@link pcaDirections} returns. */
export interface TrajectoryPca {
  /** Unit-norm, mutually orthogonal directions, largest variance first (kind `pca`, labelled "PCA direction k (…% of variance)"). */
  directions: Direction[];
  /** The fraction of the total (uncentred, or centred with `center`) variance each direction explains. */
  explainedVarianceRatio: number[];
  /** The Gram-matrix eigenvalues of the directions: the sum of squared coordinates of the rows along each. */
  eigenvalues: number[];
}

/** Elements of each parameter processed together when the Gram matrix is accumulated. */
const CHUNK = 4096;

/**
 * The top principal directions of a trajectory around `origin` (Li et al. 2018 §7): the rows
 * rᵢ = snapshotᵢ − origin (origin usually the final weights, so that the landscape is centred on the
 * solution) form a T × P matrix R; the eigenvectors c of the small T × T Gram matrix G = R Rᵀ (linalg.ts,
 * in float64) give the directions v = Rᵀc / ‖Rᵀc‖ with explained-variance ratio λ / tr G. Each
 * direction's sign makes the first snapshot with a nonzero coordinate along it have a positive one
 * (the path starts at positive coordinates and runs to the origin). Parameters are matched by HF name: every snapshot
 * must hold exactly the origin's parameters with the same shapes.
 *
 * Costs T² P / 2 multiply-adds for the Gram matrix and O(T³) for the eigen-solver (T up to a few
 * hundred snapshots). An origin given as variables is read with `await data()` (works on webgpu).
 */
export async function pcaDirections(
  snapshots: readonly WeightSnapshot[],
  origin: WeightSnapshot | readonly tf.Variable[],
  options: PcaDirectionsOptions = {},
): Promise<TrajectoryPca> {
  const k = options.components ?? 2;
  checkPositiveInt("pcaDirections: option components", k);
  if (!Array.isArray(snapshots) || snapshots.length < 2) {
    throw new Error(`pcaDirections: need at least 2 snapshots of the trajectory, got ${Array.isArray(snapshots) ? snapshots.length : typeof snapshots}`);
  }
  const o = origin instanceof Map ? origin : await snapshotWeights(origin);
  if (o.size === 0) throw new Error("pcaDirections: the origin holds no parameters");
  const names = [...o.keys()];
  snapshots.forEach((snap, t) => {
    if (!(snap instanceof Map)) throw new Error(`pcaDirections: snapshot ${t} is not a WeightSnapshot (Map of HF name → {shape, data})`);
    for (const name of names) {
      const s = snap.get(name);
      const x = o.get(name)!;
      if (!s) throw new Error(`pcaDirections: snapshot ${t} lacks parameter ${name}`);
      if (s.shape.join(",") !== x.shape.join(",") || s.data.length !== x.data.length) {
        throw new Error(`pcaDirections: parameter ${name} has shape [${s.shape}] in snapshot ${t} but [${x.shape}] in the origin`);
      }
    }
    for (const name of snap.keys()) if (!o.has(name)) throw new Error(`pcaDirections: snapshot ${t} has parameter ${name}, which the origin lacks`);
  });
  const first = snapshots[0];
  const sameAsFirst = (snap: WeightSnapshot) => names.every((name) => {
    const a = first.get(name)!.data, b = snap.get(name)!.data;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  });
  if (snapshots.every(sameAsFirst)) {
    throw new Error(`pcaDirections: fewer than 2 distinct snapshots (all ${snapshots.length} are identical): did the weights change, and was the recorder's onStep passed to train?`);
  }

  const T = snapshots.length;
  const rows = snapshots.map((snap) => names.map((name) => snap.get(name)!.data));
  const base = names.map((name) => o.get(name)!.data);
  // Gram matrix of the rows, accumulated chunk by chunk in float64.
  const gram = new Float64Array(T * T);
  const block = new Float64Array(T * CHUNK);
  names.forEach((_, p) => {
    const size = base[p].length;
    for (let start = 0; start < size; start += CHUNK) {
      const n = Math.min(CHUNK, size - start);
      for (let t = 0; t < T; t++) {
        const x = rows[t][p];
        const off = t * CHUNK;
        for (let i = 0; i < n; i++) block[off + i] = x[start + i] - base[p][start + i];
      }
      for (let a = 0; a < T; a++) {
        for (let b = a; b < T; b++) {
          let s = 0;
          const oa = a * CHUNK, ob = b * CHUNK;
          for (let i = 0; i < n; i++) s += block[oa + i] * block[ob + i];
          gram[a * T + b] += s;
        }
      }
    }
  });
  for (let a = 0; a < T; a++) for (let b = 0; b < a; b++) gram[a * T + b] = gram[b * T + a];

  let g = gram;
  if (options.center) {
    // G ← J G J with J = I − 11ᵀ/T: the Gram matrix of the mean-centred rows.
    const rowMean = Array.from({ length: T }, (_, a) => gram.subarray(a * T, (a + 1) * T).reduce((x, y) => x + y, 0) / T);
    const allMean = rowMean.reduce((x, y) => x + y, 0) / T;
    g = gram.map((v, idx) => v - rowMean[Math.floor(idx / T)] - rowMean[idx % T] + allMean);
  }
  const eig = symmetricEigen(g, T);
  const total = eig.values.reduce((s, v) => s + Math.max(v, 0), 0);
  const top = eig.values[0];
  if (!(total > 0)) throw new Error("pcaDirections: every snapshot equals the origin (after centring); the trajectory has no extent");
  const rank = eig.values.filter((v) => v > 1e-9 * top).length;
  if (rank < k) {
    throw new Error(`pcaDirections: the trajectory spans only ${rank} dimension(s) around the origin (from ${T} snapshots); ask for components ≤ ${rank} or record more snapshots`);
  }

  const directions: Direction[] = [];
  const explainedVarianceRatio: number[] = [];
  const eigenvalues: number[] = [];
  for (let j = 0; j < k; j++) {
    const c = eig.vectors[j];
    // Coordinates of the uncentred rows along Rᵀc (up to the common factor 1/‖Rᵀc‖): (G c)_t.
    const coords = Array.from({ length: T }, (_, t) => {
      let s = 0;
      for (let u = 0; u < T; u++) s += gram[t * T + u] * c[u];
      return s;
    });
    const largest = Math.max(...coords.map(Math.abs));
    const lead = coords.find((v) => Math.abs(v) > 1e-6 * largest) ?? 0;
    const sign = lead < 0 ? -1 : 1;
    const parts = names.map((_, p) => {
      const out = new Float64Array(base[p].length);
      for (let t = 0; t < T; t++) {
        const w = sign * c[t];
        if (w === 0) continue;
        const x = rows[t][p], b = base[p];
        for (let i = 0; i < out.length; i++) out[i] += w * (x[i] - b[i]);
      }
      return out;
    });
    let norm = 0;
    for (const part of parts) for (let i = 0; i < part.length; i++) norm += part[i] * part[i];
    norm = Math.sqrt(norm);
    const values: WeightSnapshot = new Map();
    names.forEach((name, p) => {
      const data = new Float32Array(parts[p].length);
      for (let i = 0; i < data.length; i++) data[i] = parts[p][i] / norm;
      values.set(name, { shape: o.get(name)!.shape.slice(), data });
    });
    const ratio = Math.max(eig.values[j], 0) / total;
    explainedVarianceRatio.push(ratio);
    eigenvalues.push(eig.values[j]);
    directions.push({ label: `PCA direction ${j + 1} (${(100 * ratio).toFixed(1)} % of variance)`, kind: "pca", values });
  }
  return { directions, explainedVarianceRatio, eigenvalues };
}
