/**
 * The GPU kit (gpu/README.md) cannot rot: it is packed here (`fsam-lab gpu-pack`, as `npm run
 * gpu:pack` does) and the packed kit runs with small shapes on Mesa's software Vulkan (lavapipe),
 * through its own launcher, Node and Vulkan loader unpacked into /tmp — as on the GPU machine — with
 * PyTorch on the CPU when /usr/bin/python3 has torch. Checked: the kit's size, its manifest, the
 * structure of what the check prints and of its JSON summary; the probe's checks that hold today
 * (forward, gradients, Adam) and a flat tensor count over Adam steps.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_KIT_DIR, KIT_SIZE_LIMIT } from "../../bin/commands/gpu-pack.ts";
import { KIT_MODELS, KIT_OPTIMIZERS } from "../../gpu/options.ts";
import { skipWithoutTool } from "../required-tools.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const kit = join(root, DEFAULT_KIT_DIR);

/** What the GPU machine takes in all: the working tree plus the carried kit. */
const CARRY_LIMIT = 64 * 2 ** 20;

/** Why the test cannot run here, or false. */
function missing(): string | false {
  const icdDirs = ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d"];
  const lavapipe = icdDirs.some((d) => existsSync(d) && readdirSync(d).some((f) => /^lvp_icd.*\.json$/.test(f)));
  if (!lavapipe) return "Mesa's software Vulkan is not installed (mesa-vulkan-drivers from bookworm-backports: no lvp_icd.json)";
  if (!existsSync(join(root, "node_modules", "webgpu", "dist", "linux-x64", "dawn.node"))) return "the optional dependency webgpu is not installed";
  for (const tool of ["xz", "python3", "apt-get"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) return `${tool} is not installed`;
  }
  return false;
}

/** Bytes of the files git tracks (the working tree the GPU machine receives besides the kit). */
function trackedBytes(): number {
  const files = spawnSync("git", ["ls-files", "-z"], { cwd: root, encoding: "utf8" }).stdout.split("\0").filter(Boolean);
  return files.reduce((sum, f) => sum + (existsSync(join(root, f)) ? statSync(join(root, f)).size : 0), 0);
}

interface Cell {
  model: string;
  optimizer: string;
  ms_per_step?: number;
  tensors_delta?: number;
  error?: string;
  skipped?: string;
}

test("the GPU kit packs under its size limit and runs on lavapipe with small shapes", { skip: skipWithoutTool(missing()) }, () => {
  const pack = spawnSync(process.execPath, ["--import", "tsx", "bin/cli.ts", "gpu-pack"], { cwd: root, encoding: "utf8" });
  assert.equal(pack.status, 0, `gpu-pack failed:\n${pack.stdout}\n${pack.stderr}`);
  const manifest = JSON.parse(readFileSync(join(kit, "manifest.json"), "utf8")) as {
    id: string;
    total_bytes: number;
    files: Record<string, { bytes: number; sha256: string }>;
  };
  for (const [name, file] of Object.entries(manifest.files)) {
    const bytes = readFileSync(join(kit, name));
    assert.equal(bytes.length, file.bytes, `${name}: size differs from the manifest`);
    assert.equal(createHash("sha256").update(bytes).digest("hex"), file.sha256, `${name}: hash differs from the manifest`);
  }
  for (const name of ["node.xz", "dawn.node.xz", "check.mjs.xz", "libstdc++.so.6.xz", "run.sh", "launch.py", "torch_bench.py", "webgpu/index.js"]) {
    assert.ok(name in manifest.files, `the kit lacks ${name}`);
  }
  assert.ok(Object.keys(manifest.files).some((f) => /^libvulkan1_.*\.deb$/.test(f)), "the kit lacks the libvulkan1 .deb");
  assert.ok(manifest.total_bytes <= KIT_SIZE_LIMIT, `kit ${manifest.total_bytes} B over ${KIT_SIZE_LIMIT} B`);
  assert.ok(manifest.total_bytes + trackedBytes() < CARRY_LIMIT, "kit + working tree exceed the GPU machine's 64 MiB");

  const out = mkdtempSync(join(tmpdir(), "fsam-gpu-kit-test-"));
  try {
    const env = { ...process.env };
    for (const key of Object.keys(env)) if (key.startsWith("FSAM_KIT_") || key === "FSAM_BACKEND") delete env[key];
    const run = spawnSync("bash", [join(kit, "run.sh"), "--small", "--out", out], { cwd: root, encoding: "utf8", env, maxBuffer: 64 * 2 ** 20 });
    const text = run.stdout;
    const context = `\n--- output ---\n${text.slice(-6000)}\n${run.stderr.slice(-2000)}`;
    assert.ok(run.status === 0 || run.status === 1, `run.sh exited with ${run.status}${context}`);
    // The launcher unpacked the kit's own Node and Vulkan loader, and looked for drivers.
    assert.match(text, new RegExp(`unpacked into /tmp/fsam-gpu-kit-${manifest.id} .*Vulkan loader .*libvulkan\\.so\\.1`), context);
    assert.match(text, /Vulkan ICD file: .*lvp_icd.*\.json -> /, context);
    // Part 1: backend, adapter, limits.
    assert.match(text, /tfjs \d+\.\d+\.\d+ on webgpu \(llvmpipe.*forced\)/, context);
    assert.match(text, /maxStorageBuffersPerShaderStage +\d+ \/ \d+/, context);
    // Part 2: the probe, with the checks that hold on today's library.
    for (const name of ["initial weights", "forward loss", "gradients", "adam: losses of 5 steps", "adam: weight change after 5 steps"]) {
      assert.match(text, new RegExp(`^  ok   ${name} `, "m"), `probe check '${name}' did not pass${context}`);
    }
    assert.match(text, /^  (ok  |FAIL) WebGPU errors during the probe /m, context);
    assert.match(text, /^probe: \d+\/\d+ checks passed$/m, context);
    // Parts 3 and 4 each have a line per model × optimizer, then the table.
    for (const model of KIT_MODELS) {
      for (const optimizer of KIT_OPTIMIZERS) {
        assert.match(text, new RegExp(`^${model} +${optimizer} +(\\d+\\.\\d+ ms/step|error: |skipped: )`, "m"), `no line for ${model} ${optimizer}${context}`);
      }
    }
    assert.match(text, /^== summary ==$/m, context);
    assert.match(text, /^bert-base targets: FSAM ours\/torch /m, context);
    assert.match(text, /^check (OK|NOT OK): backend done, probe done, pytorch (done|skipped), ours done/m, context);

    const summary = JSON.parse(readFileSync(join(out, "gpu-kit-summary.json"), "utf8")) as {
      ok: boolean;
      complete: boolean;
      parts: Record<string, { status: string }>;
      adapter: { deviceLimits: Record<string, number> };
      webgpu_errors: { count: number };
      ours: Cell[];
      pytorch: { cells: Cell[] } | null;
      table: { model: string; ours: Record<string, number | null>; torch: Record<string, number | null>; ratios: { ours_over_torch: Record<string, number | null> } }[];
    };
    assert.equal(summary.complete, true);
    assert.equal(run.status, summary.ok ? 0 : 1, "the exit code disagrees with the summary's ok");
    assert.deepEqual(Object.keys(summary.parts), ["backend", "probe", "pytorch", "ours"]);
    assert.equal(typeof summary.adapter.deviceLimits.maxStorageBuffersPerShaderStage, "number");
    assert.equal(typeof summary.webgpu_errors.count, "number");
    assert.equal(summary.ours.length, KIT_MODELS.length * KIT_OPTIMIZERS.length);
    for (const cell of summary.ours) {
      assert.ok((cell.ms_per_step ?? 0) > 0 || cell.error !== undefined || cell.skipped !== undefined, `empty cell ${JSON.stringify(cell)}`);
    }
    for (const cell of summary.ours.filter((c) => c.optimizer === "adam")) {
      assert.ok((cell.ms_per_step ?? 0) > 0, `${cell.model} adam was not timed: ${JSON.stringify(cell)}`);
      assert.equal(cell.tensors_delta, 0, `${cell.model} adam leaks tensors`);
    }
    const torchHere = spawnSync("/usr/bin/python3", ["-c", "import torch"]).status === 0;
    if (torchHere) {
      assert.equal(summary.parts.pytorch.status, "done");
      assert.equal(summary.pytorch?.cells.length, KIT_MODELS.length * KIT_OPTIMIZERS.length);
    }
    assert.deepEqual(summary.table.map((r) => r.model), [...KIT_MODELS]);
    for (const row of summary.table) {
      for (const o of KIT_OPTIMIZERS) {
        const [ours, torch] = [row.ours[o], row.torch[o]];
        const expected = ours !== null && torch !== null ? Math.round((ours / torch) * 1000) / 1000 : null;
        assert.equal(row.ratios.ours_over_torch[o], expected, `${row.model} ${o}: ours/torch`);
      }
    }
    assert.ok(readFileSync(join(out, "gpu-kit.log"), "utf8").includes("== summary =="), "gpu-kit.log lacks the summary");
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("the packed kit skips the parts its time budget leaves no room for, each with a line, and still writes its summary", { skip: skipWithoutTool(missing()) }, () => {
  assert.ok(existsSync(join(kit, "manifest.json")), "the kit is packed by the test above");
  const out = mkdtempSync(join(tmpdir(), "fsam-gpu-kit-test-"));
  try {
    const run = spawnSync("bash", [join(kit, "run.sh"), "--small", "--total-s", "30", "--out", out], { cwd: root, encoding: "utf8" });
    const context = `\n--- output ---\n${run.stdout.slice(-4000)}\n${run.stderr.slice(-2000)}`;
    assert.equal(run.status, 1, `a check with skipped parts exits with 1${context}`);
    // 30 s cannot hold the 100 s kept for PyTorch and our steps: every part says why it did not run.
    assert.match(run.stdout, /^== webgpu backend, adapter and limits: SKIPPED \(time budget spent: /m, context);
    assert.match(run.stdout, /^== correctness probe: webgpu against the cpu backend: SKIPPED \(webgpu backend unavailable: time budget spent/m, context);
    assert.match(run.stdout, /^== PyTorch fp32 steps on the same GPU: SKIPPED \(/m, context);
    assert.match(run.stdout, /^== our steps on webgpu \(tfjs \+ fsam-lab\): SKIPPED \(webgpu backend unavailable/m, context);
    const summary = JSON.parse(readFileSync(join(out, "gpu-kit-summary.json"), "utf8")) as { ok: boolean; parts: Record<string, { status: string; reason?: string }> };
    assert.equal(summary.ok, false);
    for (const [name, part] of Object.entries(summary.parts)) {
      assert.equal(part.status, "skipped", `${name} should be skipped`);
      assert.ok(part.reason, `${name} gives no reason`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
