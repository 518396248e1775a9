// The tutorial notebooks in smoke mode on the webgpu backend (FSAM_BACKEND=webgpu, lavapipe in CI):
// every code cell runs without an error, the banner says webgpu, and no WebGPU error is printed.
// (test/notebooks/notebooks.test.ts checks their content on the default backend.)
import test, { after, before } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { skipWithoutTool } from "../required-tools.ts";
import { JUPYTER, ROOT, jupyterMissing, makeJupyterEnv, readCells, runCommand, text, type JupyterEnv, type NbCell } from "../notebooks/jupyter-env.ts";
import { skipWithoutWebgpu } from "./webgpu-adapter.ts";

/**
 * The tutorial notebooks run on webgpu (00-kernel-smoke calls `arraySync()` itself, which webgpu refuses
 * with a message saying to await `array()`).
 */
const NOTEBOOKS = ["01-quickstart", "02-fisher-mask-atlas", "03-sharpness-and-landscape", "04-glue-low-resource"];
const skip = skipWithoutWebgpu || skipWithoutTool(jupyterMissing());
let env: JupyterEnv | undefined;
const executed = new Map<string, { cells: NbCell[]; log: string } | string>();

before(async () => {
  if (skip) return;
  env = makeJupyterEnv({ installPrefix: true });
  env.env.FSAM_BACKEND = "webgpu";
  const outDir = join(env.dir, "executed");
  for (const name of NOTEBOOKS) {
    const r = await runCommand(
      JUPYTER,
      ["nbconvert", "--execute", "--to", "notebook", "--output-dir", outDir, "--allow-errors",
        "--ExecutePreprocessor.kernel_name=fsam-lab", "--ExecutePreprocessor.timeout=600", `${name}.ipynb`],
      { cwd: join(ROOT, "notebooks"), env: env.env, timeoutMs: 900_000 },
    );
    const file = join(outDir, `${name}.ipynb`);
    if (r.code !== 0 || !existsSync(file)) executed.set(name, `nbconvert ${name} exited ${r.code} after ${r.seconds.toFixed(0)} s:\n${r.stderr.slice(-4000)}`);
    else executed.set(name, { cells: readCells(file), log: r.stderr });
    console.log(`# ${name} on webgpu: executed in ${r.seconds.toFixed(1)} s`);
  }
});

after(() => env?.cleanup());

for (const name of NOTEBOOKS) {
  test(`${name} runs on webgpu without errors`, { skip, timeout: 1_800_000 }, () => {
    const run = executed.get(name);
    assert.ok(run && typeof run !== "string", typeof run === "string" ? run : `${name} was not executed`);
    const code = run.cells.filter((c) => c.cell_type === "code");
    for (const [i, cell] of code.entries()) {
      const errors = (cell.outputs ?? []).filter((o) => o.output_type === "error");
      assert.deepEqual(errors.map((e) => `${e.ename}: ${e.evalue}`), [], `${name} code cell ${i} raised:\n${text(cell.source)}`);
    }
    const allText = code.flatMap((c) => c.outputs ?? []).map((o) => text(o.text)).join("\n");
    assert.match(allText, /tfjs [\d.]+ on webgpu \(/, `${name}: the banner does not say webgpu`);
    assert.doesNotMatch(allText + run.log, /OffscreenCanvas|WebGPUError|^validation:/m, `${name}: a WebGPU error or sync read`);
  });
}
