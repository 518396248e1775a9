/**
 * Imports for cells: `import x from "pkg"` compiles to `require("pkg")`; before a cell runs, every
 * module it names is loaded here — with `require` when that works (the notebook's own `.ts` modules
 * through tsx's CommonJS hooks), otherwise with `import()` (ESM-only packages, modules with top-level
 * await) — from the notebook folder first, then from the kernel's own node_modules. `fsam-lab` is the
 * preloaded library instance.
 */
import { createRequire } from "node:module";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { types } from "node:util";

/** Module specifiers named by `require("…")` calls in compiled cell code. */
export function requiredSpecifiers(js: string): string[] {
  const out = new Set<string>();
  for (const m of js.matchAll(/\brequire\(\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\s*\)/g)) {
    out.add(JSON.parse(m[1].startsWith("'") ? `"${m[1].slice(1, -1).replace(/"/g, '\\"')}"` : m[1]) as string);
  }
  return [...out];
}

/** Picks the target of a package.json `exports` entry for `import` in node. */
function exportTarget(entry: unknown): string | undefined {
  if (typeof entry === "string") return entry;
  if (Array.isArray(entry)) return entry.map(exportTarget).find((t) => t !== undefined);
  if (entry && typeof entry === "object") {
    for (const cond of ["node", "import", "default"]) {
      const t = exportTarget((entry as Record<string, unknown>)[cond]);
      if (t) return t;
    }
  }
  return undefined;
}

/**
 * Resolves a bare specifier of a package that only exports for `import` (no `require` condition),
 * which `require.resolve` cannot find: looks up node_modules folders from `fromDir` upwards.
 */
export function resolveImportOnly(specifier: string, fromDir: string): string | undefined {
  const parts = specifier.split("/");
  const nameLength = specifier.startsWith("@") ? 2 : 1;
  const name = parts.slice(0, nameLength).join("/");
  const subpath = parts.length > nameLength ? "./" + parts.slice(nameLength).join("/") : ".";
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const pkgDir = join(dir, "node_modules", name);
    if (existsSync(join(pkgDir, "package.json"))) {
      const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")) as { exports?: unknown; module?: string; main?: string };
      const exp = pkg.exports;
      const isMap = exp && typeof exp === "object" && !Array.isArray(exp) && Object.keys(exp).some((k) => k.startsWith("."));
      const target = isMap ? exportTarget((exp as Record<string, unknown>)[subpath]) : subpath === "." ? exportTarget(exp) ?? pkg.module ?? pkg.main : subpath;
      return target ? join(pkgDir, target) : undefined;
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/** Gives an ES module namespace the `__esModule` flag TypeScript's CommonJS interop expects. */
function asInterop(ns: object): object {
  if (!types.isModuleNamespaceObject(ns)) return ns;
  const out: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(ns)) {
    Object.defineProperty(out, key, { enumerable: true, get: () => (ns as Record<string, unknown>)[key] });
  }
  Object.defineProperty(out, "__esModule", { value: true });
  return out;
}

/** Errors that mean "this module cannot be required, import() it". */
const IMPORT_INSTEAD = new Set(["ERR_REQUIRE_ESM", "ERR_REQUIRE_ASYNC_MODULE", "ERR_UNKNOWN_FILE_EXTENSION", "ERR_REQUIRE_CYCLE_MODULE"]);

/** TypeScript sources (the notebook's own modules). */
const TYPESCRIPT_FILE = /\.(?:ts|mts|cts|tsx)$/;

let typeScriptRequire: Promise<void> | undefined;

/** Lets `require` load TypeScript files (tsx's CommonJS hooks), once per process. */
function enableTypeScriptRequire(): Promise<void> {
  typeScriptRequire ??= import("tsx/cjs/api").then((tsx: { register(): unknown }) => void tsx.register());
  return typeScriptRequire;
}

/** Loads and caches the modules cells import. */
export class ModuleLoader {
  readonly #fixed = new Map<string, object>();
  readonly #loaded = new Map<string, object>();
  #notebookDir: string;
  readonly #packageRoot: string;

  /**
   * @param notebookDir folder relative and bare imports resolve from first.
   * @param packageRoot the kernel's package root (its node_modules is the fallback).
   */
  constructor(notebookDir: string, packageRoot: string) {
    this.#notebookDir = notebookDir;
    this.#packageRoot = packageRoot;
  }

  /** Makes `specifier` resolve to an already loaded module (e.g. `fsam-lab`, `@tensorflow/tfjs`). */
  provide(specifier: string, module: object): void {
    this.#fixed.set(specifier, asInterop(module));
  }

  /** Resolves a specifier to a file path, notebook folder first (ESM-only packages included). */
  resolve(specifier: string): string {
    const fromNotebook = createRequire(join(this.#notebookDir, "__cell__.js"));
    try {
      return fromNotebook.resolve(specifier);
    } catch (err) {
      if (specifier.startsWith(".") || specifier.startsWith("/")) throw err;
      for (const dir of [this.#notebookDir, this.#packageRoot]) {
        const esm = resolveImportOnly(specifier, dir);
        if (esm) return esm;
      }
      return createRequire(join(this.#packageRoot, "__cell__.js")).resolve(specifier);
    }
  }

  /** Loads every module in `specifiers` that is not loaded yet. */
  async prepare(specifiers: string[]): Promise<void> {
    for (const spec of specifiers) {
      if (this.#fixed.has(spec) || this.#loaded.has(spec)) continue;
      let path: string;
      try {
        path = this.resolve(spec);
      } catch {
        // Builtins ("fs") resolve to themselves; unknown modules fail at require time with node's message.
        continue;
      }
      if (path === spec) continue; // a builtin
      // The kernel runs on tsx's ESM hooks; a notebook's own TypeScript modules are loaded through
      // require, which needs tsx's CommonJS hooks too (installed on the first such import).
      if (TYPESCRIPT_FILE.test(path)) await enableTypeScriptRequire();
      try {
        this.#loaded.set(spec, asInterop(createRequire(path)(path) as object));
      } catch (err) {
        if (!IMPORT_INSTEAD.has((err as { code?: string }).code ?? "")) throw err;
        this.#loaded.set(spec, asInterop((await import(pathToFileURL(path).href)) as object));
      }
    }
  }

  /** The `require` cells call. */
  require = (specifier: string): unknown => {
    const cached = this.#fixed.get(specifier) ?? this.#loaded.get(specifier);
    if (cached) return cached;
    const path = this.resolve(specifier);
    return asInterop(createRequire(path === specifier ? join(this.#notebookDir, "__cell__.js") : path)(path) as object);
  };

  /** Changes the notebook folder (forgets modules loaded from the old one). */
  set notebookDir(dir: string) {
    if (dir === this.#notebookDir) return;
    this.#notebookDir = dir;
    this.#loaded.clear();
  }
}
