/**
 * Runs the kit's PyTorch reference (gpu/torch_bench.py, beside the bundle in the kit) on the same
 * GPU, with the same models and shapes as the webgpu steps, and collects its results. Its lines are
 * printed as they come; its `@env`/`@cell` JSON lines are parsed. The process is killed when the
 * part's deadline passes (it also stops itself: it gets the budget as `--budget-s`).
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { StepCell } from "./bench.ts";
import { say } from "./budget.ts";
import { KIT_OPTIMIZERS, type BenchShapes } from "./options.ts";

/** What the PyTorch part reports. */
export interface TorchReport {
  /** torch version, CUDA version and device, as the script reports them. */
  env: Record<string, unknown>;
  /** One entry per model × optimizer. */
  cells: StepCell[];
  /** The script's exit code (null when killed). */
  exitCode: number | null;
}

/** Why the PyTorch part cannot run, or undefined when it can. */
export function torchUnmet(kitDir: string | undefined, python: string | undefined): string | undefined {
  if (kitDir === undefined || !existsSync(join(kitDir, "torch_bench.py"))) return "torch_bench.py not found (FSAM_KIT_DIR unset: not run from a kit)";
  if (python === undefined) return "no python3 that imports torch was found (FSAM_KIT_PYTHON unset)";
  return undefined;
}

/**
 * Runs torch_bench.py and resolves with its results.
 *
 * @param small passes `--small --allow-cpu` (the software-Vulkan test runs PyTorch on the CPU).
 * @param deadline epoch ms; the script gets the time left minus 15 s (start-up and exit of torch),
 *   and is killed 5 s after the deadline.
 */
export function runTorchBench(kitDir: string, python: string, shapes: BenchShapes, small: boolean, deadline: number): Promise<TorchReport> {
  const budgetS = Math.max(1, (deadline - Date.now()) / 1000 - 15);
  const args = [
    "-u",
    join(kitDir, "torch_bench.py"),
    "--models", shapes.models.map((m) => m.name).join(","),
    "--optimizers", KIT_OPTIMIZERS.join(","),
    "--batch", String(shapes.batch),
    "--seq", String(shapes.seq),
    "--warmup", String(small ? shapes.warmup : shapes.warmup + 1),
    "--steps", String(small ? shapes.steps : Math.max(shapes.steps, 20)),
    "--fisher-samples", String(shapes.fisherSamples),
    "--budget-s", budgetS.toFixed(0),
    ...(small ? ["--small", "--allow-cpu"] : []),
  ];
  say(`${python} ${args.slice(1).join(" ")}`);
  return new Promise((resolve, reject) => {
    const child = spawn(python, args, { stdio: ["ignore", "pipe", "pipe"] });
    const report: TorchReport = { env: {}, cells: [], exitCode: null };
    const kill = setTimeout(() => {
      say(`PyTorch part past its deadline: killing pid ${child.pid}`);
      child.kill("SIGKILL");
    }, Math.max(0, deadline - Date.now() + 5000));
    const onLine = (line: string) => {
      if (line.startsWith("@env ")) report.env = JSON.parse(line.slice(5)) as Record<string, unknown>;
      else if (line.startsWith("@cell ")) report.cells.push(JSON.parse(line.slice(6)) as StepCell);
      else say(`  [torch] ${line}`);
    };
    createInterface({ input: child.stdout }).on("line", onLine);
    createInterface({ input: child.stderr }).on("line", (line) => say(`  [torch stderr] ${line}`));
    child.on("error", (error) => {
      clearTimeout(kill);
      reject(new Error(`could not start ${python}: ${error.message}`));
    });
    child.on("close", (code) => {
      clearTimeout(kill);
      report.exitCode = code;
      if (code !== 0 && report.cells.length === 0) reject(new Error(`torch_bench.py exited with ${code} before any result`));
      else resolve(report);
    });
  });
}
