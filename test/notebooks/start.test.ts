/**
 * `fsam-lab start` (what `npm start` runs): argument parsing, finding a Jupyter frontend, and the
 * no-Jupyter fallback — with `FSAM_LAB_JUPYTER=none` it must say how to install Jupyter, register
 * the kernel for the user, run the quickstart headless on the kernel and write an HTML report whose
 * Plotly figures really draw (checked in headless Chromium when it is installed).
 */
import test from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { findJupyter, jupyterArgs, parseStartArgs, quickstartUrl } from "../../bin/commands/start.ts";
import { ROOT, makeJupyterEnv, runCommand } from "./jupyter-env.ts";

test("start: parses --port, --no-browser, --ip, --token, --report and rejects bad values", () => {
  const o = parseStartArgs(["--port", "9123", "--no-browser", "--ip=0.0.0.0", "--token", "abc_1", "--report", "x/r.html"]);
  assert.equal(o.port, 9123);
  assert.equal(o.browser, false);
  assert.equal(o.ip, "0.0.0.0");
  assert.equal(o.token, "abc_1");
  assert.equal(o.report, join(process.cwd(), "x", "r.html"));
  const d = parseStartArgs([]);
  assert.equal(d.port, 8888);
  assert.equal(d.ip, "127.0.0.1");
  assert.equal(d.browser, true);
  assert.match(d.token, /^[0-9a-f]{48}$/);
  assert.notEqual(parseStartArgs([]).token, d.token, "a fresh random token each time");
  assert.throws(() => parseStartArgs(["--port", "70000"]), /--port must be an integer from 1 to 65535, got '70000'/);
  assert.throws(() => parseStartArgs(["--port"]), /--port needs a value/);
  assert.throws(() => parseStartArgs(["--browser"]), /unknown argument '--browser'/);
  assert.throws(() => parseStartArgs(["--token", "a b"]), /--token may only use/);
});

test("start: FSAM_LAB_JUPYTER picks or disables the frontend; classic Notebook gets NotebookApp flags", () => {
  assert.equal(findJupyter({ ...process.env, FSAM_LAB_JUPYTER: "none" }), undefined);
  assert.throws(() => findJupyter({ ...process.env, FSAM_LAB_JUPYTER: "vscode" }), /FSAM_LAB_JUPYTER must be lab, notebook, none or a path/);
  const classic = { kind: "notebook" as const, executable: "/usr/bin/jupyter-notebook", version: "6.4.12" };
  const args = jupyterArgs(classic, { port: 8890, browser: false, ip: "127.0.0.1", token: "t0k", report: "" });
  assert.equal(args[0], "01-quickstart.ipynb");
  assert.ok(args.includes("--NotebookApp.token=t0k") && args.includes("--no-browser") && args.includes("--port=8890"));
  assert.ok(args.includes(`--notebook-dir=${join(ROOT, "notebooks")}`));
  assert.equal(quickstartUrl(classic, "http://127.0.0.1:8890/", "t0k"), "http://127.0.0.1:8890/notebooks/01-quickstart.ipynb?token=t0k");
  const lab = { kind: "lab" as const, executable: "/x/jupyter-lab", version: "4.2.0" };
  assert.ok(jupyterArgs(lab, { port: 1, browser: true, ip: "127.0.0.1", token: "t", report: "" }).includes("--ServerApp.token=t"));
  assert.equal(quickstartUrl(lab, "http://h:1", "t"), "http://h:1/lab/tree/01-quickstart.ipynb?token=t");
  if (existsSync("/usr/bin/jupyter-notebook")) {
    const found = findJupyter({ ...process.env, FSAM_LAB_JUPYTER: "notebook" });
    assert.equal(found?.kind, Number(found?.version.split(".")[0]) >= 7 ? "lab" : "notebook");
  }
});

test("start without Jupyter: install help, kernel registered, quickstart report with drawn plots", async () => {
  const jenv = makeJupyterEnv({ installPrefix: false });
  try {
    const report = join(jenv.dir, "quickstart.html");
    const r = await runCommand(process.execPath, [join(ROOT, "bin", "fsam-lab.js"), "start", "--report", report], {
      cwd: ROOT, env: { ...jenv.env, FSAM_LAB_JUPYTER: "none" }, timeoutMs: 300_000,
    });
    assert.equal(r.code, 0, `start failed:\n${r.stdout}\n${r.stderr.slice(-3000)}`);
    assert.match(r.stdout, /pip install jupyterlab/);
    assert.match(r.stdout, /apt-get install jupyter-notebook/);
    assert.match(r.stdout, new RegExp(`report written to ${report.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
    const spec = JSON.parse(readFileSync(join(jenv.env.JUPYTER_DATA_DIR!, "kernels", "fsam-lab", "kernel.json"), "utf8"));
    assert.equal(spec.display_name, "FSAM Lab (TypeScript)");
    const html = readFileSync(report, "utf8");
    assert.ok(!html.includes('class="error"'), "the report shows an error");
    assert.ok((html.match(/class="fsam-frame"/g) ?? []).length >= 3, "DataFrame tables are in the report");
    // update_display_data replaced each progress display in place: 5 runs, each shown once, in its final state.
    const progress = [...html.matchAll(/<div class="fsam-train-progress".*?<\/progress><span>step (\d+)\/(\d+)/g)];
    assert.equal(progress.length, 5, "one progress display per training run (Adam, SAM, ESAM, Fisher-ESAM, FSAM)");
    for (const [, step, total] of progress) assert.equal(step, total, "each progress display ends on its last step");
    const plots = [...html.matchAll(/Plotly\.newPlot\("(plot-\d+)", (\[.*?\]), (\{.*?\}), /g)];
    assert.equal(plots.length, 2, "the comparison's metric and loss figures");
    for (const [, , data] of plots) {
      const names = (JSON.parse(data) as { name?: string }[]).map((t) => t.name ?? "").join(" ");
      for (const o of ["adam", "sam", "fsam"]) assert.match(names, new RegExp(`\\b${o}\\b`));
    }
    if (existsSync("/usr/bin/chromium")) {
      const { chromium } = await import("playwright-core");
      const browser = await chromium.launch({
        executablePath: "/usr/bin/chromium",
        args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
      });
      try {
        const page = await browser.newPage();
        await page.route(/^(?!file:)/, (route) => route.abort()); // the report must not need the network
        await page.goto(pathToFileURL(report).href);
        await page.waitForSelector(".plotly-figure svg.main-svg", { timeout: 60_000 });
        assert.equal(await page.locator(".plotly-figure").count(), 2);
        assert.equal(await page.locator(".plotly-figure .main-svg >> nth=0").count(), 1);
        const drawn = await page.evaluate(() => Array.from(document.querySelectorAll(".plotly-figure")).filter((d) => d.querySelector("svg.main-svg .scatterlayer .trace")).length);
        assert.equal(drawn, 2, "both figures have drawn traces");
      } finally {
        await browser.close();
      }
    }
  } finally {
    jenv.cleanup();
  }
});
