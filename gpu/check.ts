/**
 * The GPU kit's check: the entry point that `npm run gpu:pack` bundles and the kit's launcher
 * (gpu/launch.py) runs with the kit's own Node on the GPU machine. In order, each part under its
 * own time budget and printing as it goes:
 *
 * 1. the webgpu backend (forced, `FSAM_BACKEND=webgpu`), the adapter and its limits;
 * 2. the correctness probe (webgpu against the cpu backend, gpu/probe.ts);
 * 3. PyTorch's ms per step on the same GPU (gpu/torch_bench.py via gpu/torch.ts);
 * 4. our ms per step on webgpu (gpu/bench.ts), with whatever time is left;
 *
 * then the table of ratios. `gpu-kit-summary.json` in `FSAM_KIT_OUT` is rewritten after every part
 * and timed cell (`complete: false` until the end), so a killed check leaves what it measured.
 * Exit code 0 when every part ran and every probe check passed, else 1 (the summary says which).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { writeFileAtomic } from "../lib/atomic-write.ts";
import { formatBackendInfo, initBackend, type BackendInfo } from "../lib/backend.ts";
import { benchWebgpu, type StepCell } from "./bench.ts";
import { runPart, say, type PartOutcome } from "./budget.ts";
import { kitOptions } from "./options.ts";
import { correctnessProbe, type ProbeReport } from "./probe.ts";
import { formatRatioTable, ratioRows } from "./ratios.ts";
import { runTorchBench, torchUnmet, type TorchReport } from "./torch.ts";
import { describeWebgpu, formatAdapterReport, webgpuDevice, WebgpuErrorLog, type AdapterReport } from "./webgpu-device.ts";

/** Name of the JSON summary the check writes. */
export const SUMMARY_FILE = "gpu-kit-summary.json";

/** Seconds kept for the later parts when an earlier one sets its deadline: PyTorch, then ours. */
const LATER_PARTS_S = { pytorch: 40, ours: 60 } as const;

/** The kit's manifest.json (what was packed, from which commit), or undefined outside a kit. */
function readManifest(kitDir: string | undefined): Record<string, unknown> | undefined {
  if (kitDir === undefined) return undefined;
  try {
    return JSON.parse(readFileSync(join(kitDir, "manifest.json"), "utf8")) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** The part's status, time and reason, for the summary ("not finished" while it runs or before it starts). */
function partSummary(part: PartOutcome<unknown> | undefined): { status: string; seconds?: number; reason?: string } {
  if (part === undefined) return { status: "not finished" };
  return { status: part.status, seconds: Math.round(part.seconds * 10) / 10, ...(part.reason ? { reason: part.reason } : {}) };
}

async function main(): Promise<number> {
  const options = kitOptions(process.argv.slice(2), process.env);
  const started = Date.now();
  const manifest = readManifest(options.kitDir);
  const until = (laterS: number) => options.deadline - (options.reserveS + laterS) * 1000;
  say(
    `FSAM Lab GPU kit check (${options.small ? "small shapes" : "full"}): kit ${String(manifest?.commit ?? "not packed")} ` +
      `built ${String(manifest?.built ?? "?")}; node ${process.version}; tfjs ${tf.version.tfjs}; ` +
      `${((options.deadline - started) / 1000).toFixed(0)} s to go`,
  );
  const errors = new WebgpuErrorLog();
  const parts: Partial<Record<"backend" | "probe" | "pytorch" | "ours", PartOutcome<unknown>>> = {};
  let backendResult: { info: BackendInfo; adapter: AdapterReport } | undefined;
  let probeResult: ProbeReport | undefined;
  let torchResult: TorchReport | undefined;
  let ourCells: StepCell[] = [];
  const path = join(options.outDir, SUMMARY_FILE);
  // Written after every part and every timed cell, so a check killed midway leaves what it had.
  const writeSummary = (complete: boolean): boolean => {
    const probeOk = probeResult !== undefined && probeResult.passed === probeResult.checks.length;
    const names = ["backend", "probe", "pytorch", "ours"] as const;
    const ok = complete && names.every((k) => parts[k]?.status === "done") && probeOk;
    const torchCells = torchResult?.cells ?? [];
    const summary = {
      ok,
      complete,
      mode: options.small ? "small" : "full",
      kit: manifest ?? null,
      node: process.version,
      tfjs: tf.version.tfjs,
      started: new Date(started).toISOString(),
      seconds: Math.round((Date.now() - started) / 100) / 10,
      parts: Object.fromEntries(names.map((k) => [k, partSummary(parts[k])])),
      backend: backendResult?.info ?? null,
      adapter: backendResult?.adapter ?? null,
      probe: probeResult ?? null,
      webgpu_errors: errors.toJSON(),
      pytorch: torchResult ? { env: torchResult.env, exit_code: torchResult.exitCode, cells: torchCells } : null,
      ours: ourCells,
      shapes: { batch: options.bench.batch, seq: options.bench.seq, warmup: options.bench.warmup, steps: options.bench.steps, fisher_samples: options.bench.fisherSamples },
      table: ratioRows(options.bench.models.map((m) => m.name), ourCells, torchCells),
    };
    writeFileAtomic(path, `${JSON.stringify(summary, null, 1)}\n`);
    return ok;
  };

  process.env.FSAM_BACKEND = "webgpu";
  parts.backend = await runPart(
    "webgpu backend, adapter and limits",
    { budgetS: options.budgets.backend, hardDeadline: until(LATER_PARTS_S.pytorch + LATER_PARTS_S.ours) },
    async () => {
      const info = await initBackend();
      for (const line of formatBackendInfo(info).split("\n")) say(line);
      errors.attach(webgpuDevice());
      const adapter = await describeWebgpu();
      for (const line of formatAdapterReport(adapter)) say(line);
      backendResult = { info, adapter };
    },
  );
  writeSummary(false);
  const noWebgpu = parts.backend.status === "done" ? undefined : `webgpu backend unavailable: ${parts.backend.reason}`;

  parts.probe = await runPart(
    "correctness probe: webgpu against the cpu backend",
    { budgetS: options.budgets.probe, hardDeadline: until(LATER_PARTS_S.pytorch + LATER_PARTS_S.ours), unmet: noWebgpu },
    async (deadline) => {
      probeResult = await correctnessProbe(options.probe, errors, deadline);
    },
  );
  writeSummary(false);

  parts.pytorch = await runPart(
    "PyTorch fp32 steps on the same GPU",
    { budgetS: options.budgets.pytorch, hardDeadline: until(LATER_PARTS_S.ours), minS: 15, unmet: torchUnmet(options.kitDir, options.python) },
    async (deadline) => {
      torchResult = await runTorchBench(options.kitDir as string, options.python as string, options.bench, options.small, deadline);
    },
  );
  writeSummary(false);

  parts.ours = await runPart(
    "our steps on webgpu (tfjs + fsam-lab)",
    { budgetS: Infinity, hardDeadline: until(0), minS: 5, unmet: noWebgpu },
    async (deadline) => {
      await benchWebgpu(options.bench, errors, deadline, (cells) => {
        ourCells = cells;
        writeSummary(false);
      });
    },
  );

  say();
  say("== summary ==");
  for (const line of formatRatioTable(ratioRows(options.bench.models.map((m) => m.name), ourCells, torchResult?.cells ?? []))) say(line);
  say(`WebGPU errors in the whole check: ${errors.count}`);
  for (const [message, count] of errors.messages) say(`  ${count}× ${message}`);
  const ok = writeSummary(true);
  say(`summary: ${path}`);
  say(`check ${ok ? "OK" : "NOT OK"}: ${Object.entries(parts).map(([k, p]) => `${k} ${p.status}`).join(", ")}; probe ${probeResult ? `${probeResult.passed}/${probeResult.checks.length}` : "not run"}; ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    say(`check crashed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(2);
  },
);
