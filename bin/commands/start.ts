/**
 * `fsam-lab start [--port N] [--no-browser] [--ip ADDR] [--token TOKEN]` (what `npm start` runs):
 * registers the FSAM Lab kernel for the user, then serves `notebooks/` with JupyterLab when it is
 * installed, else with the classic Jupyter Notebook, opening the quickstart and printing its URL.
 *
 * Without any Jupyter it says how to install one and, meanwhile, runs the quickstart headless on the
 * kernel (node speaks the Jupyter protocol itself) and writes the report with its plots to
 * `out/quickstart.html` (or `--report FILE`).
 *
 * Environment: `FSAM_LAB_JUPYTER` = `lab` or `notebook` forces that frontend, `none` behaves as if no
 * Jupyter were installed (the headless report), a path names the `jupyter-lab`/`jupyter-notebook`
 * executable to use. `FSAM_LAB_SMOKE=1` is passed on to the kernel (small notebook settings).
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, renameSync, statSync, writeFileSync } from "node:fs";
import { basename, delimiter, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { installKernelSpec } from "../../kernel/kernelspec.ts";
import { runNotebook } from "../headless/run-notebook.ts";
import { notebookReportHtml } from "../headless/report-html.ts";
import { escapeHtml } from "../../lib/html.ts";

/** One line for `fsam-lab help`. */
export const summary = "open the lab: start [--port N] [--no-browser] [--ip ADDR] [--token T] [--report FILE] (JupyterLab, Notebook, or a headless report)";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** The folder Jupyter is rooted at. */
const NOTEBOOK_DIR = join(ROOT, "notebooks");
/** The notebook opened first. */
const QUICKSTART = "01-quickstart.ipynb";
/** Where the headless report goes. */
const REPORT = join(ROOT, "out", "quickstart.html");

const USAGE = `usage: fsam-lab start [--port N] [--no-browser] [--ip ADDR] [--token TOKEN] [--report FILE]
  --port N        port of the Jupyter server (default 8888; Jupyter tries the next ones when taken)
  --no-browser    do not open a browser; just print the URL
  --ip ADDR       address to listen on (default 127.0.0.1)
  --token TOKEN   the server's access token (default: a random one, printed in the URL)
  --report FILE   without Jupyter: where the headless quickstart report goes (default out/quickstart.html)
environment: FSAM_LAB_JUPYTER=lab|notebook|none|<path>, FSAM_LAB_SMOKE=1 (small notebook settings)`;

/** Parsed options of the command. */
export interface StartOptions {
  /** Server port. */
  port: number;
  /** Open a browser. */
  browser: boolean;
  /** Listening address. */
  ip: string;
  /** Access token. */
  token: string;
  /** Path of the headless report (used when no Jupyter is installed). */
  report: string;
}

/** Parses the command line; throws with the offending argument named. */
export function parseStartArgs(argv: string[]): StartOptions {
  const options: StartOptions = { port: 8888, browser: true, ip: "127.0.0.1", token: randomBytes(24).toString("hex"), report: REPORT };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inlineValue] = argv[i].startsWith("--") && argv[i].includes("=") ? argv[i].split(/=(.*)/s, 2) : [argv[i], undefined];
    const value = (): string => {
      const v = inlineValue ?? argv[++i];
      if (v === undefined || v === "") throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === "--port") {
      const v = value();
      const port = Number(v);
      if (!/^\d+$/.test(v) || port < 1 || port > 65535) throw new Error(`--port must be an integer from 1 to 65535, got '${v}'`);
      options.port = port;
    } else if (flag === "--no-browser") {
      options.browser = false;
    } else if (flag === "--ip") {
      options.ip = value();
    } else if (flag === "--token") {
      const v = value();
      if (!/^[A-Za-z0-9_-]+$/.test(v)) throw new Error(`--token may only use letters, digits, '_' and '-', got '${v}'`);
      options.token = v;
    } else if (flag === "--report") {
      options.report = resolve(value());
    } else {
      throw new Error(`unknown argument '${argv[i]}'\n${USAGE}`);
    }
  }
  return options;
}

/** A Jupyter frontend found on this machine. */
export interface JupyterFrontend {
  /** `lab` (JupyterLab or Notebook 7, both on jupyter_server) or `notebook` (classic Notebook 6). */
  kind: "lab" | "notebook";
  /** The executable. */
  executable: string;
  /** Its `--version` output. */
  version: string;
}

/** The executables called `name` on PATH, then in /usr/bin and /usr/local/bin (Debian's Jupyter). */
function candidates(name: string): string[] {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/bin", "/usr/local/bin"].filter((d) => d !== "");
  return [...new Set(dirs.map((d) => join(d, name)))].filter((p) => existsSync(p) && statSync(p).isFile());
}

/** The version an executable reports, or undefined when it does not run (e.g. a pyenv shim without Jupyter). */
function versionOf(executable: string): string | undefined {
  const r = spawnSync(executable, ["--version"], { encoding: "utf8", timeout: 30_000 });
  const out = `${r.stdout ?? ""}`.trim().split("\n").pop() ?? "";
  return r.status === 0 && out !== "" ? out : undefined;
}

/**
 * Finds JupyterLab, else the classic Notebook, honouring `FSAM_LAB_JUPYTER` (see the module doc).
 * Returns undefined when there is none.
 */
export function findJupyter(env: NodeJS.ProcessEnv = process.env): JupyterFrontend | undefined {
  const wanted = (env.FSAM_LAB_JUPYTER ?? "").trim();
  if (wanted === "none") return undefined;
  if (wanted.includes("/")) {
    const version = versionOf(wanted);
    if (!version) throw new Error(`FSAM_LAB_JUPYTER=${wanted}: that executable does not run ('--version' failed)`);
    const major = Number(version.split(".")[0]);
    const kind = basename(wanted).includes("lab") || major >= 7 ? "lab" : "notebook";
    return { kind, executable: wanted, version };
  }
  if (wanted !== "" && wanted !== "lab" && wanted !== "notebook") {
    throw new Error(`FSAM_LAB_JUPYTER must be lab, notebook, none or a path to an executable, got '${wanted}'`);
  }
  const kinds: ("lab" | "notebook")[] = wanted === "" ? ["lab", "notebook"] : [wanted];
  for (const kind of kinds) {
    for (const executable of candidates(kind === "lab" ? "jupyter-lab" : "jupyter-notebook")) {
      const version = versionOf(executable);
      if (!version) continue;
      // Notebook 7 is a JupyterLab-based app on jupyter_server: the same flags and URLs as JupyterLab.
      const resolved = kind === "notebook" && Number(version.split(".")[0]) >= 7 ? "lab" : kind;
      return { kind: resolved, executable, version };
    }
  }
  return undefined;
}

/** The command-line arguments that serve `notebooks/` with the quickstart open. */
export function jupyterArgs(frontend: JupyterFrontend, options: StartOptions): string[] {
  const app = frontend.kind === "lab" ? "ServerApp" : "NotebookApp";
  return [
    QUICKSTART,
    `--notebook-dir=${NOTEBOOK_DIR}`,
    `--ip=${options.ip}`,
    `--port=${options.port}`,
    `--${app}.token=${options.token}`,
    ...(options.browser ? [] : ["--no-browser"]),
    // Jupyter refuses to run as root without it (containers, CI).
    ...(process.getuid?.() === 0 ? ["--allow-root"] : []),
  ];
}

/** The quickstart's URL on a server at `base` (e.g. `http://127.0.0.1:8888/`). */
export function quickstartUrl(frontend: JupyterFrontend, base: string, token: string): string {
  const path = frontend.kind === "lab" ? `lab/tree/${QUICKSTART}` : `notebooks/${QUICKSTART}`;
  return `${base.replace(/\/?$/, "/")}${path}?token=${token}`;
}

/** Starts the Jupyter server and prints the quickstart URL once the server says where it listens. */
function serve(frontend: JupyterFrontend, options: StartOptions): Promise<number> {
  console.log(`starting ${frontend.kind === "lab" ? "JupyterLab" : "Jupyter Notebook"} ${frontend.version} (${frontend.executable}) in ${NOTEBOOK_DIR}`);
  const child = spawn(frontend.executable, jupyterArgs(frontend, options), { cwd: NOTEBOOK_DIR, stdio: ["ignore", "pipe", "pipe"] });
  let announced = false;
  // The server's "running at" line and its URL can arrive in different chunks: match on what came so far.
  let seen = "";
  const watch = (chunk: Buffer, out: NodeJS.WriteStream) => {
    const text = chunk.toString("utf8");
    out.write(text);
    if (announced) return;
    seen = (seen + text).slice(-16384);
    const base = /(https?:\/\/[^\s/]+:\d+\/)/.exec(seen);
    if (base && /running at|is running|Serving notebooks|Jupyter Server .* is running/i.test(seen)) {
      announced = true;
      console.log(`\nFSAM Lab is ready — open the quickstart at:\n\n    ${quickstartUrl(frontend, base[1], options.token)}\n`);
    }
  };
  child.stdout?.on("data", (c: Buffer) => watch(c, process.stdout));
  child.stderr?.on("data", (c: Buffer) => watch(c, process.stderr));
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const onInt = forward("SIGINT");
  const onTerm = forward("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  return new Promise((resolveCode) => {
    child.on("error", (err) => {
      console.error(`fsam-lab start: cannot run ${frontend.executable}: ${err.message}`);
      resolveCode(1);
    });
    child.on("exit", (code, signal) => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      resolveCode(code ?? (signal ? 0 : 1));
    });
  });
}

/** How to install a Jupyter frontend. */
export const INSTALL_HELP = `No Jupyter found (looked for jupyter-lab and jupyter-notebook on PATH, in /usr/bin and /usr/local/bin).
Install one of them, then run \`npm start\` again:
    pip install jupyterlab                  # JupyterLab (any OS, in your Python environment)
    sudo apt-get install jupyter-notebook   # Debian/Ubuntu: the classic Jupyter Notebook`;

/** Writes a file atomically (temp file + rename), creating its folder. */
function writeAtomic(path: string, text: string): void {
  mkdirSync(resolve(path, ".."), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** Runs the quickstart on the kernel without Jupyter and writes `out/quickstart.html`. */
export async function headlessQuickstart(reportPath = REPORT): Promise<number> {
  console.log(`Meanwhile: running ${QUICKSTART} headless on the FSAM Lab kernel${process.env.FSAM_LAB_SMOKE === "1" ? " (FSAM_LAB_SMOKE=1: small settings)" : ""} …`);
  const run = await runNotebook(join(NOTEBOOK_DIR, QUICKSTART), {
    onOutput: (cell, text) => {
      const line = text.split("\n").filter((l) => l.trim() !== "").slice(0, 3).join(" | ");
      if (line !== "") process.stderr.write(`[cell ${cell}] ${line.slice(0, 160)}\n`);
    },
  });
  const banner =
    `<p><strong>FSAM Lab quickstart, run headless</strong> (no Jupyter was found). Install one with ` +
    `<code>pip install jupyterlab</code> or <code>sudo apt-get install jupyter-notebook</code>, then <code>npm start</code> ` +
    `opens this notebook live.</p><p>${escapeHtml(new Date().toISOString())}</p>`;
  writeAtomic(reportPath, notebookReportHtml(run, { title: "FSAM Lab quickstart", banner }));
  if (run.error) {
    console.error(`the quickstart stopped at cell ${run.error.cell}: ${run.error.ename}: ${run.error.evalue}`);
    console.log(`partial report written to ${reportPath}`);
    return 1;
  }
  console.log(`report written to ${reportPath} (${run.seconds.toFixed(1)} s); open it in any browser.`);
  return 0;
}

/** Registers the kernel, then serves the notebooks or writes the headless report. */
export async function run(argv: string[]): Promise<number> {
  let options: StartOptions;
  let frontend: JupyterFrontend | undefined;
  try {
    options = parseStartArgs(argv);
    frontend = findJupyter();
  } catch (err) {
    console.error(`fsam-lab start: ${(err as Error).message}`);
    return 2;
  }
  try {
    const dir = installKernelSpec({ kind: "user" });
    console.log(`registered the FSAM Lab kernel ('fsam-lab') in ${dir}`);
  } catch (err) {
    console.error(`fsam-lab start: could not register the kernel for the user (${(err as Error).message}); ` +
      "run `npx fsam-lab install --prefix <dir>` and add <dir>/share/jupyter to JUPYTER_PATH");
  }
  if (frontend) return serve(frontend, options);
  console.log(INSTALL_HELP);
  // Ctrl-C ends the run; exiting also stops the kernel (see KernelClient).
  process.once("SIGINT", () => process.exit(130));
  process.once("SIGTERM", () => process.exit(143));
  return headlessQuickstart(options.report);
}
