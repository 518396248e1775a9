/**
 * Real-browser test of `npm start`: `fsam-lab start --no-browser` serves the notebooks with the
 * Jupyter Notebook on 127.0.0.1, headless Debian Chromium (playwright-core, never a downloaded
 * browser) opens the quickstart, runs every cell (Cell → Run All) with `FSAM_LAB_SMOKE=1`, and we
 * check that a Plotly plot was drawn, that the training progress bar was one output updated in
 * place, and that no error output appeared. Screenshots go to `out/quickstart-browser.png` (the comparison plot) and
 * `out/quickstart-browser-training.png` (the live-training cell).
 */
import test from "node:test";
import assert from "node:assert/strict";
import { skipWithoutTool } from "../required-tools.ts";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { findJupyter } from "../../bin/commands/start.ts";
import { ROOT, makeJupyterEnv } from "../notebooks/jupyter-env.ts";

const CHROMIUM = "/usr/bin/chromium";
const frontend = (() => {
  try {
    return findJupyter({ ...process.env, FSAM_LAB_JUPYTER: "" });
  } catch {
    return undefined;
  }
})();
const skip = skipWithoutTool(
  !existsSync(CHROMIUM)
    ? `${CHROMIUM} is not installed (apt-get install chromium)`
    : !frontend
      ? "no Jupyter Notebook/JupyterLab installed (apt-get install jupyter-notebook)"
      : frontend.kind !== "notebook"
        ? `this test drives the classic Notebook DOM; found ${frontend.kind} ${frontend.version}`
        : false,
);

/** A free TCP port on 127.0.0.1. */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolvePort(address.port) : reject(new Error("no port"))));
    });
  });
}

/** What the page reports about the first training cell's progress output. */
interface ProgressProbe {
  /** Progress displays in that cell. */
  count: number;
  /** Text of the first one. */
  text: string;
}

test("npm start serves the quickstart; Run All draws Plotly plots, updates the progress bar in place, no errors", { skip, timeout: 420_000 }, async () => {
  const jenv = makeJupyterEnv({ installPrefix: false });
  const port = await freePort();
  const token = `fsamtest${Date.now()}`;
  const server = spawn(process.execPath, [join(ROOT, "bin", "fsam-lab.js"), "start", "--no-browser", "--port", String(port), "--ip", "127.0.0.1", "--token", token], {
    cwd: ROOT, env: { ...jenv.env, FSAM_LAB_JUPYTER: "notebook" }, stdio: ["ignore", "pipe", "pipe"],
  });
  let browser: import("playwright-core").Browser | undefined;
  try {
    let serverLog = "";
    server.stderr.on("data", (c: Buffer) => (serverLog += c.toString("utf8")));
    const url = await new Promise<string>((resolveUrl, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`no URL printed within 90 s:\n${out}\n${serverLog}`)), 90_000);
      server.stdout.on("data", (c: Buffer) => {
        out += c.toString("utf8");
        const m = /FSAM Lab is ready[^\n]*\n\s*\n?\s*(http:\/\/\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolveUrl(m[1]);
        }
      });
      server.on("exit", (code) => reject(new Error(`fsam-lab start exited (${code}):\n${out}\n${serverLog}`)));
    });
    assert.equal(url, `http://127.0.0.1:${port}/notebooks/01-quickstart.ipynb?token=${token}`);
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    // Only the local server may be contacted.
    await page.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (route) => route.abort());
    await page.goto(url);
    await page.waitForSelector("#kernel_indicator_icon.kernel_idle_icon", { timeout: 120_000 });
    const kernelName = await page.evaluate(() => (window as unknown as { Jupyter: { notebook: { kernel: { name: string } } } }).Jupyter.notebook.kernel.name);
    assert.equal(kernelName, "fsam-lab");

    await page.click("#celllink");
    await page.click("#run_all_cells > a");

    // Index of the first training cell, to watch its progress output.
    const trainCell = await page.evaluate(() =>
      (window as unknown as { Jupyter: { notebook: { get_cells(): { get_text(): string }[] } } }).Jupyter.notebook.get_cells().findIndex((c) => c.get_text().includes("fsam.train(")),
    );
    assert.ok(trainCell > 0, "the quickstart has a training cell");
    const probes: ProgressProbe[] = [];
    const done = async () =>
      page.evaluate(() => {
        const nb = (window as unknown as { Jupyter: { notebook: { get_cells(): { cell_type: string; input_prompt_number: unknown }[] } } }).Jupyter.notebook;
        const pending = nb.get_cells().filter((c) => c.cell_type === "code" && (c.input_prompt_number === "*" || c.input_prompt_number === undefined || c.input_prompt_number === null));
        return pending.length === 0 && document.querySelector("#kernel_indicator_icon.kernel_idle_icon") !== null;
      });
    const started = Date.now();
    for (;;) {
      const probe = await page.evaluate((index) => {
        const cell = document.querySelectorAll("#notebook-container .cell")[index];
        const bars = cell ? cell.querySelectorAll(".output_area .fsam-train-progress") : [];
        return { count: bars.length, text: bars.length > 0 ? (bars[0].textContent ?? "") : "" };
      }, trainCell);
      if (probe.count > 0 && (probes.length === 0 || probes[probes.length - 1].text !== probe.text)) probes.push(probe);
      if (await done()) break;
      if (Date.now() - started > 330_000) {
        mkdirSync(join(ROOT, "out"), { recursive: true });
        await page.screenshot({ path: join(ROOT, "out", "quickstart-browser-failure.png") });
        const prompts = await page.evaluate(() =>
          (window as unknown as { Jupyter: { notebook: { get_cells(): { cell_type: string; input_prompt_number: unknown }[] } } }).Jupyter.notebook
            .get_cells().filter((c) => c.cell_type === "code").map((c) => String(c.input_prompt_number)),
        );
        assert.fail(`Run All did not finish within 330 s; prompts [${prompts.join(", ")}]; server log:\n${serverLog.slice(-3000)}`);
      }
      await page.waitForTimeout(150);
    }

    // The progress bar: always a single display in its cell, whose content changed as steps went by.
    assert.ok(probes.length >= 2, `the progress display never changed: ${JSON.stringify(probes)}`);
    assert.ok(probes.every((p) => p.count === 1), `expected one progress output, saw ${probes.map((p) => p.count)}`);
    const steps = probes.map((p) => Number(/step (\d+)\//.exec(p.text)?.[1] ?? NaN));
    assert.ok(steps.every((s, i) => Number.isFinite(s) && (i === 0 || s >= steps[i - 1])), `steps go forward: ${steps}`);
    const final = /step (\d+)\/(\d+)/.exec(probes[probes.length - 1].text)!;
    assert.equal(final[1], final[2], "the progress bar ends on its last step");

    // Plotly drew the comparison figures.
    await page.waitForSelector(".output_area svg.main-svg", { timeout: 30_000 });
    const plots = await page.locator(".output_area .fsam-plotly").count();
    assert.equal(plots, 2, "the metric and loss figures");
    const drawn = await page.evaluate(() => Array.from(document.querySelectorAll(".output_area .fsam-plotly")).filter((d) => d.querySelector("svg.main-svg .scatterlayer .trace")).length);
    assert.equal(drawn, 2, "both figures have drawn traces");
    // DataFrame tables.
    assert.ok((await page.locator(".output_area table.fsam-frame").count()) >= 3);
    // No error output, and nothing on stderr that looks like an error.
    assert.equal(await page.locator(".output_error").count(), 0, "an error output appeared");
    const stderr = await page.locator(".output_stderr").allTextContents();
    assert.deepEqual(stderr.filter((t) => /error|traceback/i.test(t)), [], "stderr shows an error");

    // Screenshots (the notebook scrolls inside its own container): the live-training cell, then the comparison plot.
    mkdirSync(join(ROOT, "out"), { recursive: true });
    await page.locator("#notebook-container .cell").nth(trainCell).scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(ROOT, "out", "quickstart-browser-training.png") });
    await page.locator(".output_area .fsam-plotly").first().scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(ROOT, "out", "quickstart-browser.png") });
  } finally {
    await browser?.close();
    server.kill("SIGTERM");
    await new Promise<void>((r) => (server.exitCode !== null ? r() : server.once("exit", () => r())));
    jenv.cleanup();
  }
});
