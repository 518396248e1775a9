/**
 * Installing the kernelspec without Python: `kernel.json` (absolute node path + the `fsam-lab kernel`
 * entry) and the logos, in the Jupyter kernels folder of the user, of `sys.prefix`, or of any prefix.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { jupyterDataDir } from "./history.ts";

const KERNEL_DIR = dirname(fileURLToPath(import.meta.url));
/** The `fsam-lab` command's entry script. */
export const CLI_ENTRY = join(dirname(KERNEL_DIR), "bin", "fsam-lab.js");
/** Default kernelspec name. */
export const DEFAULT_NAME = "fsam-lab";

/** Where to install: the user's data dir, Python's sys.prefix, or an explicit prefix. */
export type SpecLocation = { kind: "user" } | { kind: "sys-prefix" } | { kind: "prefix"; dir: string };

/** The kernel.json content. */
export function kernelJson(): Record<string, unknown> {
  return {
    argv: [process.execPath, CLI_ENTRY, "kernel", "-f", "{connection_file}"],
    display_name: "FSAM Lab (TypeScript)",
    language: "typescript",
    interrupt_mode: "signal",
    metadata: { debugger: false },
  };
}

/** Python's `sys.prefix` from /usr/bin/python3, or /usr/local when there is no Python. */
export function sysPrefix(): string {
  const r = spawnSync("/usr/bin/python3", ["-c", "import sys; print(sys.prefix)"], { encoding: "utf8" });
  const out = r.status === 0 ? r.stdout.trim() : "";
  return out !== "" ? out : "/usr/local";
}

/** The `kernels` folder for a location. */
export function kernelsDir(location: SpecLocation): string {
  if (location.kind === "user") return join(jupyterDataDir(), "kernels");
  const prefix = location.kind === "prefix" ? resolve(location.dir) : sysPrefix();
  return join(prefix, "share", "jupyter", "kernels");
}

/** Checks a kernelspec name (Jupyter allows letters, digits, `.`, `_`, `-`). */
export function checkName(name: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`--name must use only letters, digits, '.', '_' and '-', got '${name}'`);
  return name.toLowerCase();
}

/** Writes a file atomically (temp file + rename). */
function writeAtomic(path: string, data: string | Buffer): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/**
 * Writes the kernelspec.
 *
 * @returns the kernelspec folder.
 */
export function installKernelSpec(location: SpecLocation, name = DEFAULT_NAME): string {
  const dir = join(kernelsDir(location), checkName(name));
  mkdirSync(dir, { recursive: true });
  writeAtomic(join(dir, "kernel.json"), JSON.stringify(kernelJson(), null, 2) + "\n");
  for (const logo of ["logo-32x32.png", "logo-64x64.png"]) {
    const tmp = join(dir, `${logo}.${process.pid}.tmp`);
    copyFileSync(join(KERNEL_DIR, "assets", logo), tmp);
    renameSync(tmp, join(dir, logo));
  }
  return dir;
}

/**
 * Removes the kernelspec.
 *
 * @returns the removed folder, or undefined when it was not installed there.
 */
export function uninstallKernelSpec(location: SpecLocation, name = DEFAULT_NAME): string | undefined {
  const dir = join(kernelsDir(location), checkName(name));
  if (!existsSync(join(dir, "kernel.json"))) return undefined;
  rmSync(dir, { recursive: true, force: true });
  return dir;
}

/** Parses `[--user | --sys-prefix | --prefix DIR] [--name NAME]`. */
export function parseSpecArgs(argv: string[], command: string): { location: SpecLocation; name: string } {
  let location: SpecLocation = { kind: "user" };
  let name = DEFAULT_NAME;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--user") location = { kind: "user" };
    else if (a === "--sys-prefix") location = { kind: "sys-prefix" };
    else if (a === "--prefix" || a.startsWith("--prefix=")) {
      const dir = a === "--prefix" ? argv[++i] : a.slice("--prefix=".length);
      if (!dir) throw new Error(`${command}: --prefix needs a folder`);
      location = { kind: "prefix", dir };
    } else if (a === "--name" || a.startsWith("--name=")) {
      const n = a === "--name" ? argv[++i] : a.slice("--name=".length);
      if (!n) throw new Error(`${command}: --name needs a value`);
      name = checkName(n);
    } else throw new Error(`${command}: unknown option '${a}' (use --user, --sys-prefix, --prefix DIR, --name NAME)`);
  }
  return { location, name };
}
