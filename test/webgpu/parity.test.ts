// The webgpu backend against the cpu backend: the same small computations (test/webgpu/parity-run.ts)
// run in two child processes, FSAM_BACKEND=cpu and FSAM_BACKEND=webgpu, and are compared within the
// tolerances below. Runs on any WebGPU adapter, Mesa's software Vulkan (lavapipe) in CI.
//
// Tolerances (float32 on both; the GPU sums in another order, and its exp/tanh differ in the last
// bits). Measured on lavapipe, the differences are 10-100× below these bounds:
// - forward logits and loss: 1e-5 absolute (values are O(1); measured 4e-9 and 0);
// - gradients: 1e-4 of the largest gradient magnitude, per entry (measured 1e-6);
// - 5 steps of each optimizer (lr 1e-2, clipping 1): losses 1e-5 absolute (measured 1e-7), weights
//   1e-4 absolute (measured ≤ 3e-6; Adam divides by √v, so near-zero gradients amplify noise);
// - FSAM's Fisher scores: 1e-4 of the largest score (measured 1e-7); the mask: ≥ 99 % of entries
//   agree (ties and near-threshold scores may swap; measured 100 %), same kept count, threshold
//   within 1e-3 relative (measured 5e-7);
// - Hessian tools with finite-difference products (top eigenvalue by power iteration, Hutchinson
//   trace, 4 Lanczos Ritz values): 1e-3 × max(1, |value|) (measured ≤ 2e-5 relative); the loss along
//   the eigenvector direction: 1e-4 absolute (measured 6e-6).
// - SAM sharpness (ρ 0.05, global and per layer): loss and L(w + e) − L(w) within 2e-5 absolute; a
//   seeded random direction (filter-normalised against the weights): 1e-5 absolute; a 3-step Adam
//   trajectory's PCA plane: explained-variance ratios within 1e-3, path coordinates within 1e-3 of
//   the largest coordinate;
// - FisherSAM under model.fit with FisherSAMFitCallback (8 steps, refresh every 2): the same refresh
//   steps, losses 1e-5, weights 1e-4, masks ≥ 99 % equal (as above).
import test from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { skipWithoutWebgpu, webgpuAdapter } from "./webgpu-adapter.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const RUN = fileURLToPath(new URL("./parity-run.ts", import.meta.url));

/** What parity-run.ts prints. */
interface StepResult {
  losses: number[];
  weights: number[];
  mask?: number[];
  fisher?: number[];
  threshold?: number;
  atlas?: { totalKept: number; totalSize: number; blocks: number };
}
/** What parity-run.ts prints for one model.fit run (or the error it threw). */
interface FitResult {
  losses?: number[];
  weights?: number[];
  refreshes?: number[];
  mask?: number[];
  error?: string;
}
interface RunResult {
  backend: string;
  banner: string;
  logits: number[];
  loss: number;
  grads: number[];
  steps: Record<string, StepResult>;
  hessian: { eigenvalue: number; trace: number; ritz: number[]; landscape: number[] };
  memory: { numTensors: number[]; numBytes: number[] };
  inspect: { loss: number; sharpness: number; blockSharpness: number[]; random: number[]; ratios: number[]; path: number[] };
  fit: { callback: FitResult; prepared: FitResult; bare?: FitResult };
  addN40?: number[];
  syncRead?: string;
  syncReadExpected?: string;
  invalidAddN?: string;
  afterError?: number;
}

/** Runs parity-run.ts with FSAM_BACKEND=backend; resolves with its result, its stderr and seconds. */
function runOn(backend: string): Promise<{ result: RunResult; output: string; seconds: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", RUN], { cwd: ROOT, env: { ...process.env, FSAM_BACKEND: backend } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 600_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      const line = stdout.split("\n").find((l) => l.startsWith("RESULT "));
      if (code !== 0 || !line) return reject(new Error(`FSAM_BACKEND=${backend} run exited ${code}:\n${stderr.slice(-4000)}`));
      resolve({ result: JSON.parse(line.slice("RESULT ".length)), output: stdout + stderr, seconds: (performance.now() - started) / 1000 });
    });
  });
}

/** Largest |a_i − b_i|, checking the lengths match. */
function maxDiff(a: number[], b: number[], what: string): number {
  assert.equal(a.length, b.length, `${what}: lengths differ`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    assert.ok(Number.isFinite(b[i]), `${what}[${i}] is ${b[i]} on webgpu`);
    m = Math.max(m, Math.abs(a[i] - b[i]));
  }
  return m;
}

const maxAbs = (a: number[]) => a.reduce((m, x) => Math.max(m, Math.abs(x)), 0);

let runs: Promise<[Awaited<ReturnType<typeof runOn>>, Awaited<ReturnType<typeof runOn>>]> | undefined;
/** Both runs, started once (concurrently) and shared by the tests. */
const bothRuns = () => (runs ??= Promise.all([runOn("cpu"), runOn("webgpu")]));

test(`webgpu on ${webgpuAdapter ?? "no adapter"} matches cpu: forward, gradients, optimizer steps, Fisher mask`, { skip: skipWithoutWebgpu, timeout: 900_000 }, async (t) => {
  const [cpu, gpu] = await bothRuns();
  t.diagnostic(`cpu run ${cpu.seconds.toFixed(1)} s, webgpu run ${gpu.seconds.toFixed(1)} s`);
  const c = cpu.result;
  const g = gpu.result;
  assert.equal(c.backend, "cpu");
  assert.equal(g.backend, "webgpu");
  assert.match(g.banner, /on webgpu \(.+, \d+ storage buffers\/stage, .* binding, .* buffer, .* workgroup memory, forced\)/);

  const logitDiff = maxDiff(c.logits, g.logits, "logits");
  assert.ok(logitDiff <= 1e-5, `logits differ by ${logitDiff}`);
  assert.ok(Math.abs(c.loss - g.loss) <= 1e-5, `loss ${c.loss} vs ${g.loss}`);
  const gradDiff = maxDiff(c.grads, g.grads, "gradients");
  assert.ok(gradDiff <= 1e-4 * maxAbs(c.grads), `gradients differ by ${gradDiff} (largest ${maxAbs(c.grads)})`);
  t.diagnostic(`forward: ${logitDiff.toExponential(1)}; gradients: ${(gradDiff / maxAbs(c.grads)).toExponential(1)} relative to the largest`);

  assert.deepEqual(Object.keys(g.steps), ["adam", "sam", "asam", "gsam", "fsam"]);
  for (const [name, cs] of Object.entries(c.steps)) {
    const gs = g.steps[name];
    const lossDiff = maxDiff(cs.losses, gs.losses, `${name} losses`);
    const weightDiff = maxDiff(cs.weights, gs.weights, `${name} weights`);
    t.diagnostic(`${name}: 5-step losses ${lossDiff.toExponential(1)}, weights ${weightDiff.toExponential(1)}`);
    assert.ok(lossDiff <= 1e-5, `${name}: losses differ by ${lossDiff}: ${cs.losses} vs ${gs.losses}`);
    assert.ok(weightDiff <= 1e-4, `${name}: weights after 5 steps differ by ${weightDiff}`);
    assert.ok(cs.losses[4] < cs.losses[0], `${name} lowers the loss in 5 steps (cpu: ${cs.losses})`);
  }
  const cf = c.steps.fsam;
  const gf = g.steps.fsam;
  const fisherDiff = maxDiff(cf.fisher!, gf.fisher!, "fisher");
  assert.ok(fisherDiff <= 1e-4 * maxAbs(cf.fisher!), `Fisher scores differ by ${fisherDiff}`);
  const agree = cf.mask!.filter((m, i) => m === gf.mask![i]).length / cf.mask!.length;
  t.diagnostic(`fsam: Fisher ${(fisherDiff / maxAbs(cf.fisher!)).toExponential(1)} relative; masks agree on ${(100 * agree).toFixed(2)} %`);
  assert.ok(agree >= 0.99, `masks agree on only ${(100 * agree).toFixed(2)} %`);
  assert.deepEqual(gf.atlas, cf.atlas, "the Fisher atlas of the mask");
  assert.ok(Math.abs(cf.threshold! - gf.threshold!) <= 1e-3 * Math.abs(cf.threshold!), `threshold ${cf.threshold} vs ${gf.threshold}`);
});

test("webgpu matches cpu: Hessian eigenvalue, trace, Lanczos spectrum, and the landscape along the eigenvector", { skip: skipWithoutWebgpu, timeout: 900_000 }, async (t) => {
  const [cpu, gpu] = await bothRuns();
  const c = cpu.result.hessian;
  const g = gpu.result.hessian;
  const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-3 * Math.max(1, Math.abs(a)), `${what}: ${a} on cpu, ${b} on webgpu`);
  close(c.eigenvalue, g.eigenvalue, "top eigenvalue");
  close(c.trace, g.trace, "trace estimate");
  assert.equal(g.ritz.length, c.ritz.length);
  c.ritz.forEach((x, i) => close(x, g.ritz[i], `Ritz value ${i}`));
  const landscapeDiff = maxDiff(c.landscape, g.landscape, "landscape");
  assert.ok(landscapeDiff <= 1e-4, `landscape differs by ${landscapeDiff}`);
  t.diagnostic(`Hessian: eigenvalue ${Math.abs(c.eigenvalue - g.eigenvalue).toExponential(1)}, trace ${Math.abs(c.trace - g.trace).toExponential(1)}; landscape ${landscapeDiff.toExponential(1)}`);
});

test("webgpu matches cpu: SAM sharpness, a random direction, a trajectory's PCA plane (the inspection tools' async reads)", { skip: skipWithoutWebgpu, timeout: 900_000 }, async (t) => {
  const [cpu, gpu] = await bothRuns();
  const c = cpu.result.inspect;
  const g = gpu.result.inspect;
  assert.ok(Math.abs(c.loss - g.loss) <= 2e-5, `loss ${c.loss} vs ${g.loss}`);
  assert.ok(c.sharpness > 0, `SAM sharpness on cpu is ${c.sharpness}`);
  const sharpDiff = maxDiff([c.sharpness, ...c.blockSharpness], [g.sharpness, ...g.blockSharpness], "SAM sharpness");
  assert.ok(sharpDiff <= 2e-5, `SAM sharpness differs by ${sharpDiff}`);
  const randomDiff = maxDiff(c.random, g.random, "random direction");
  assert.ok(randomDiff <= 1e-5, `random direction differs by ${randomDiff}`);
  const ratioDiff = maxDiff(c.ratios, g.ratios, "PCA ratios");
  assert.ok(ratioDiff <= 1e-3, `explained-variance ratios ${c.ratios} vs ${g.ratios}`);
  const pathDiff = maxDiff(c.path, g.path, "trajectory path");
  assert.ok(pathDiff <= 1e-3 * maxAbs(c.path), `path coordinates differ by ${pathDiff} (largest ${maxAbs(c.path)})`);
  t.diagnostic(`SAM sharpness ${sharpDiff.toExponential(1)}; random direction ${randomDiff.toExponential(1)}; PCA ratios ${ratioDiff.toExponential(1)}, path ${(pathDiff / maxAbs(c.path)).toExponential(1)} relative`);
});

test("FisherSAM under model.fit on webgpu: FisherSAMFitCallback refreshes on time and matches cpu; without it a refresh reads in the background and applies late; no first mask throws clearly", { skip: skipWithoutWebgpu, timeout: 900_000 }, async (t) => {
  const [cpu, gpu] = await bothRuns();
  const c = cpu.result.fit;
  const g = gpu.result.fit;
  for (const [name, r] of Object.entries({ ...c, callback: g.callback, prepared: g.prepared })) assert.equal(r.error, undefined, `${name}: ${r.error}`);
  assert.deepEqual(c.callback.refreshes, [0, 2, 4, 6]);
  assert.deepEqual(g.callback.refreshes, c.callback.refreshes);
  // On cpu the in-step (synchronous) refresh gives exactly what the callback gives.
  assert.deepEqual(c.prepared, c.callback);
  const lossDiff = maxDiff(c.callback.losses!, g.callback.losses!, "fit losses");
  const weightDiff = maxDiff(c.callback.weights!, g.callback.weights!, "fit weights");
  const agree = c.callback.mask!.filter((m, i) => m === g.callback.mask![i]).length / c.callback.mask!.length;
  t.diagnostic(`model.fit: losses ${lossDiff.toExponential(1)}, weights ${weightDiff.toExponential(1)}, masks agree on ${(100 * agree).toFixed(1)} %; background refreshes at steps ${g.prepared.refreshes}`);
  assert.ok(lossDiff <= 1e-5, `model.fit losses differ by ${lossDiff}`);
  assert.ok(weightDiff <= 1e-4, `model.fit weights differ by ${weightDiff}`);
  assert.ok(agree >= 0.99, `masks agree on only ${(100 * agree).toFixed(2)} %`);
  // Without the callback: step 0's mask was prepared by hand; the refresh due at step 2 reads in the
  // background and applies once the read has completed, which needs the event loop to turn (the fit
  // loop's awaits between batches do not; measured on lavapipe: at step 8, the end of the fit).
  const late = g.prepared.refreshes!;
  assert.equal(late[0], 0);
  assert.ok(late.length >= 2 && late.slice(1).every((step, k) => step > 2 && step > late[k]), `background refreshes at ${late}`);
  assert.ok(g.prepared.losses!.every(Number.isFinite) && g.prepared.losses!.at(-1)! < g.prepared.losses![0], `losses ${g.prepared.losses}`);
  assert.match(g.bare?.error ?? "no error", /needs a first mask.*FisherSAMFitCallback/);
});

test("webgpu: tf.memory() is flat over 50 FSAM steps, and no WebGPU error was reported", { skip: skipWithoutWebgpu, timeout: 900_000 }, async () => {
  const [cpu, gpu] = await bothRuns();
  const counts = gpu.result.memory.numTensors;
  assert.deepEqual(counts, Array(counts.length).fill(counts[0]), `tensor count at steps 10, 20, …, 50: ${counts}`);
  assert.deepEqual(counts, cpu.result.memory.numTensors, "same tensor count as on cpu");
  const bytes = gpu.result.memory.numBytes;
  assert.deepEqual(bytes, Array(bytes.length).fill(bytes[0]), `bytes at steps 10, 20, …, 50: ${bytes}`);
  // Dawn prints every uncaptured error ("validation:", …); the only ones allowed are those of the
  // deliberate invalid AddN of the last test, which the thrown WebGPUError counts.
  const printed = gpu.output.split("\n").filter((l) => /^(validation|out of memory|internal|device lost|unknown)\b.*:$/i.test(l.trim()));
  const deliberate = Number(/reported (\d+) error/.exec(gpu.result.invalidAddN ?? "")?.[1]);
  assert.equal(printed.length, deliberate, `WebGPU errors besides the deliberate AddN:\n${gpu.output.slice(-3000)}`);
});

test("webgpu: AddN of 40 inputs is right, dataSync() says to await data(), an invalid op throws a WebGPUError naming it", { skip: skipWithoutWebgpu, timeout: 900_000 }, async () => {
  const [, gpu] = await bothRuns();
  const g = gpu.result;
  assert.deepEqual(g.addN40, Array(15).fill((40 * 41) / 2));
  assert.equal(g.syncRead, g.syncReadExpected);
  assert.doesNotMatch(g.syncRead ?? "", /OffscreenCanvas/);
  assert.match(g.invalidAddN ?? "", /^WebGPUError: WebGPU reported \d+ errors? .*\n.*storage buffers \(41\).*exceeds.*\n(.|\n)*AddNPackedProgram/);
  assert.equal(g.afterError, (40 * 41) / 2, "the backend works again after the error was thrown");
});
