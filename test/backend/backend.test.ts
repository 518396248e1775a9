// Backend selection: order, skip reasons, forcing (option and FSAM_BACKEND), errors, idempotence,
// and the banner text. What this machine offers (a real libtensorflow binding, a GPU adapter) is
// detected independently here, so the expectations hold on a GPU machine too.
import test from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import {
  BACKEND_NAMES,
  backendInfo,
  formatBackendInfo,
  initBackend,
  type BackendInfo,
  type BackendName,
} from "../../lib/backend.ts";
import { WASM_KERNEL_PATCHES } from "../../lib/backend/probe-wasm.ts";
import { softwareAdapterReason, type AdapterLike } from "../../lib/backend/webgpu-adapter.ts";

const require = createRequire(import.meta.url);
const backendModule = fileURLToPath(new URL("../../lib/backend.ts", import.meta.url));

/** The package.json name of an installed package, or undefined when it is not installed. */
function packageName(pkg: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(require.resolve(`${pkg}/package.json`), "utf8")) as { name: string }).name;
  } catch {
    return undefined;
  }
}

const nodeGpu = packageName("@tensorflow/tfjs-node-gpu");
const node = packageName("@tensorflow/tfjs-node");
const realTensorflow = nodeGpu === "@tensorflow/tfjs-node-gpu" || node === "@tensorflow/tfjs-node";

/** What adapter Dawn (the `webgpu` package) reports here, asked directly: none, a software one (lavapipe) or a GPU. */
async function adapterKind(): Promise<"none" | "software" | "hardware"> {
  try {
    const dawn = (await import("webgpu")) as unknown as {
      create(o: string[]): { requestAdapter(): Promise<AdapterLike | null> };
    };
    const timeout = new Promise<null>((resolve) => setTimeout(resolve, 5000, null).unref());
    const adapter = await Promise.race([dawn.create([]).requestAdapter(), timeout]);
    if (adapter == null) return "none";
    return softwareAdapterReason(adapter, adapter.info) === undefined ? "hardware" : "software";
  } catch {
    return "none";
  }
}
const adapter = await adapterKind();
const gpuAdapter = adapter === "hardware";

/** Runs `initBackend()` in a fresh process with the given FSAM_BACKEND; returns its info or error. */
function initInChild(fsamBackend: string, env: Record<string, string> = {}): { info?: BackendInfo; error?: string } {
  const code = `
    const { initBackend } = await import(${JSON.stringify(backendModule)});
    try { console.log("RESULT" + JSON.stringify({ info: await initBackend() })); }
    catch (e) { console.log("RESULT" + JSON.stringify({ error: e.message })); }`;
  const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    env: { ...process.env, FSAM_BACKEND: fsamBackend, ...env },
    encoding: "utf8",
    timeout: 60000,
  });
  const line = child.stdout.split("\n").find((l) => l.startsWith("RESULT"));
  assert.ok(line, `child printed no result; stderr: ${child.stderr}`);
  return JSON.parse(line.slice("RESULT".length));
}

test("automatic choice: first loadable of tensorflow → webgpu → wasm → cpu, with a reason per skip", async (t) => {
  delete process.env.FSAM_BACKEND;
  const started = performance.now();
  const info = await initBackend();
  const seconds = (performance.now() - started) / 1000;
  assert.equal(tf.getBackend(), info.backend);
  assert.equal(info.forced, false);
  assert.equal(info.tfjsVersion, tf.version.tfjs);
  assert.deepEqual(
    info.skipped.map((s) => s.backend),
    BACKEND_NAMES.slice(0, BACKEND_NAMES.indexOf(info.backend)),
    "every faster backend is listed as skipped, in order",
  );
  for (const s of info.skipped) assert.ok(s.reason.length > 5, `reason for ${s.backend}: "${s.reason}"`);
  if (realTensorflow || gpuAdapter) {
    t.diagnostic(`this machine has ${realTensorflow ? "libtensorflow" : "a GPU adapter"}: chose ${info.backend}`);
    assert.notEqual(info.backend, "wasm");
    return;
  }
  assert.equal(info.backend, "wasm");
  assert.equal(info.device, "CPU");
  assert.equal(typeof info.simd, "boolean");
  assert.ok(Number.isInteger(info.threads) && (info.threads as number) >= 1);
  assert.equal(info.fastKernels, true);
  assert.ok(WASM_KERNEL_PATCHES.every((patch) => patch.installed()), "the fast kernels are installed with wasm");
  const [tensorflow, webgpu] = info.skipped;
  if (node === "@tensorflow/tfjs") {
    assert.match(tensorflow.reason, /@tensorflow\/tfjs-node is an alias of @tensorflow\/tfjs, no native binding/);
  }
  if (nodeGpu === undefined) assert.match(tensorflow.reason, /@tensorflow\/tfjs-node-gpu not installed/);
  if (adapter === "software") assert.match(webgpu.reason, /^only a software adapter, .+ slower than wasm; FSAM_BACKEND=webgpu forces it\)$/);
  else assert.match(webgpu.reason, /no GPU adapter|webgpu package|requestAdapter/);
  assert.ok(seconds < 20, `selection took ${seconds.toFixed(1)} s (the webgpu probe must not hang)`);
});

test("initBackend is idempotent, serialises concurrent calls and re-selects after an outside switch", async () => {
  const info = await initBackend();
  assert.equal(await initBackend(), info, "same object on a second call");
  assert.equal(backendInfo(), info);
  const [x, y] = await Promise.all([initBackend(), initBackend()]);
  assert.equal(x, info);
  assert.equal(y, info);
  await tf.setBackend("cpu");
  const again = await initBackend();
  assert.equal(again.backend, info.backend, "selection runs again and picks the same backend");
  assert.equal(tf.getBackend(), info.backend);
});

test("forcing cpu through the option switches backend; a plain call then keeps it", async () => {
  const cpu = await initBackend({ backend: "cpu" });
  assert.equal(cpu.backend, "cpu");
  assert.equal(cpu.forced, true);
  assert.deepEqual(cpu.skipped, []);
  assert.equal(tf.getBackend(), "cpu");
  assert.match(cpu.device, /CPU/);
  assert.equal(await initBackend(), cpu);
  assert.equal(tf.tidy(() => tf.matMul(tf.ones([2, 3]), tf.ones([3, 4])).sum().dataSync()[0]), 24);
  const wasm = await initBackend({ backend: "wasm" });
  assert.equal(wasm.backend, "wasm");
  assert.equal(wasm.forced, true);
  assert.equal(tf.getBackend(), "wasm");
});

test("unknown backend names are errors that list the valid ones", async () => {
  await assert.rejects(
    initBackend({ backend: "gpu" as BackendName }),
    /initBackend option backend="gpu" is not a backend; valid values: tensorflow, webgpu, wasm, cpu/,
  );
  process.env.FSAM_BACKEND = "tpu";
  try {
    await assert.rejects(initBackend(), /FSAM_BACKEND="tpu" is not a backend; valid values: tensorflow, webgpu, wasm, cpu/);
  } finally {
    delete process.env.FSAM_BACKEND;
  }
});

test("forcing tensorflow fails with a clear message unless a real libtensorflow binding is installed", async () => {
  const active = tf.getBackend();
  if (realTensorflow) {
    const info = await initBackend({ backend: "tensorflow" });
    assert.equal(info.backend, "tensorflow");
    return;
  }
  await assert.rejects(initBackend({ backend: "tensorflow" }), (error: Error) => {
    assert.match(error.message, /^initBackend\(\{backend: "tensorflow"\}\): the tensorflow backend could not be loaded: /);
    assert.match(error.message, /tfjs-node-gpu/);
    assert.match(error.message, /@tensorflow\/tfjs-node/);
    return true;
  });
  assert.equal(tf.getBackend(), active, "a failed forced load leaves the active backend alone");
});

test("forcing webgpu without a GPU adapter fails quickly and clearly", () => {
  // Vulkan's loader is pointed at no driver, so Dawn finds no adapter on any machine.
  const hidden = { VK_ICD_FILENAMES: "/nonexistent/icd.json", VK_DRIVER_FILES: "/nonexistent/icd.json" };
  const started = performance.now();
  const r = initInChild("webgpu", hidden);
  assert.match(r.error ?? "", /^FSAM_BACKEND=webgpu: the webgpu backend could not be loaded: .*(no GPU adapter|webgpu package)/);
  // A child process (tsx start-up included) that gives up well before the adapter timeout would add up.
  assert.ok(performance.now() - started < 30000, `took ${performance.now() - started} ms`);
});

test("FSAM_BACKEND forces the backend in a fresh process; a failing forced one names itself", () => {
  const cpu = initInChild("cpu");
  assert.equal(cpu.info?.backend, "cpu");
  assert.equal(cpu.info?.forced, true);
  const wasm = initInChild(" WASM ");
  assert.equal(wasm.info?.backend, "wasm");
  assert.equal(wasm.info?.fastKernels, true);
  if (!realTensorflow) {
    assert.match(initInChild("tensorflow").error ?? "", /^FSAM_BACKEND=tensorflow: the tensorflow backend could not be loaded: /);
  }
});

test("formatBackendInfo: one line for the choice, one for the skipped backends", () => {
  const wasm: BackendInfo = {
    backend: "wasm",
    device: "CPU",
    forced: false,
    skipped: [
      { backend: "tensorflow", reason: "@tensorflow/tfjs-node-gpu not installed" },
      { backend: "webgpu", reason: "no GPU adapter" },
    ],
    simd: true,
    threads: 1,
    fastKernels: true,
    tfjsVersion: "4.22.0",
  };
  assert.equal(
    formatBackendInfo(wasm),
    "tfjs 4.22.0 on wasm (CPU, SIMD, 1 thread, fast kernels)\n" +
      "skipped tensorflow: @tensorflow/tfjs-node-gpu not installed; webgpu: no GPU adapter",
  );
  const gpu: BackendInfo = { backend: "webgpu", device: "NVIDIA H100", forced: true, skipped: [], tfjsVersion: "4.22.0" };
  assert.equal(formatBackendInfo(gpu), "tfjs 4.22.0 on webgpu (NVIDIA H100, forced)");
  const limits = { maxStorageBuffersPerShaderStage: 16, maxStorageBufferBindingSize: 2 ** 27, maxBufferSize: 2 ** 32 - 1, maxComputeWorkgroupStorageSize: 32768 };
  assert.equal(
    formatBackendInfo({ ...gpu, device: "llvmpipe (LLVM 15)", softwareAdapter: true, limits }),
    "tfjs 4.22.0 on webgpu (llvmpipe (LLVM 15), software adapter, 16 storage buffers/stage, 128 MiB binding, 4.0 GiB buffer, 32 KiB workgroup memory, forced)",
  );
  const threads = formatBackendInfo({ ...wasm, simd: false, threads: 4, fastKernels: false, skipped: [] });
  assert.equal(threads, "tfjs 4.22.0 on wasm (CPU, no SIMD, 4 threads)");
  const current = backendInfo();
  assert.ok(current);
  const text = formatBackendInfo(current);
  assert.ok(text.includes(`tfjs ${tf.version.tfjs} on ${current.backend}`));
  for (const s of current.skipped) assert.ok(text.includes(`${s.backend}: ${s.reason}`));
});
