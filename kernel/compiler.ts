/**
 * The TypeScript side of the kernel: tslab 1.0.22's incremental converter (pinned), loaded with a
 * patched view of its bundled compiler (`@tslab/typescript-for-tslab` 5.0.4) so that
 *
 * - types resolve from the kernel's own node_modules whatever the notebook's working directory,
 * - the prelude (`kernel/prelude.d.ts`: `tf`, `fsam`, `dfd`, `display`, …) is part of every program,
 * - `import … from "fsam-lab"` resolves to `lib/index.ts` and relative imports to the notebook folder,
 * - type errors do not block a cell unless the type-check mode is `strict` (they come back as warnings),
 * - the emitted JavaScript carries a source map back to the cell, for tracebacks.
 */
import Module, { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { dirname, join, resolve as resolvePath, isAbsolute } from "node:path";
import { fileURLToPath } from "node:url";
import { lightBuilderProgramFactory } from "./light-builder.ts";
import { visitEachChildWithPrevShorthands, type ShorthandChecker, type ShorthandTsApi } from "./prev-shorthand.ts";

const require = createRequire(import.meta.url);

/** Folder of the kernel sources. */
export const KERNEL_DIR = dirname(fileURLToPath(import.meta.url));
/** Root of the fsam-lab package (the converter's virtual working directory). */
export const PACKAGE_ROOT = dirname(KERNEL_DIR);
/** The declaration file that types the preloaded globals. */
export const PRELUDE_PATH = join(KERNEL_DIR, "prelude.d.ts");
/** Entry of the library, what `import … from "fsam-lab"` means. */
export const LIBRARY_ENTRY = join(PACKAGE_ROOT, "lib", "index.ts");

/** How type errors are treated: `warn` (default) shows them and runs, `strict` blocks, `off` hides. */
export type TypecheckMode = "strict" | "warn" | "off";

/** A compiler message located in the cell (0-based line and column). */
export interface CellDiagnostic {
  /** 0-based line in the cell. */
  line: number;
  /** 0-based column. */
  character: number;
  /** The message text (chains flattened, indented). */
  message: string;
  /** TypeScript error code. */
  code: number;
}

/** The JavaScript for one cell. */
export interface CompiledCell {
  /** CommonJS-style code that reads and writes `exports` (the notebook's variables) and calls `require`. */
  js: string;
  /** Declarations the next cell sees. */
  declOutput: string;
  /** Name of the `exports` entry that holds the value of the cell's last expression, if any. */
  lastExpressionVar?: string;
  /** True when the cell uses top-level `await` (the code is wrapped in an async function). */
  hasTopLevelAwait: boolean;
  /** Type errors that did not block the cell. */
  warnings: CellDiagnostic[];
  /** Maps a (1-based line, 0-based column) of `js` to the cell, for tracebacks. */
  mapPosition(line: number, column: number): { line: number; column: number } | undefined;
}

/** Compilation failed: syntax errors, or type errors in strict mode. */
export interface CompileFailure {
  /** The blocking diagnostics. */
  errors: CellDiagnostic[];
}

/** One completion candidate. */
export interface CompletionCandidate {
  /** Text to insert. */
  text: string;
  /** TypeScript's element kind (`function`, `property`, `const`, …). */
  kind: string;
}

/** Completions at a cursor. */
export interface Completions {
  /** Start of the text the candidates replace. */
  start: number;
  /** End of the text the candidates replace. */
  end: number;
  /** The candidates, best first. */
  candidates: CompletionCandidate[];
}

/** Quick info at a cursor: the signature and its TSDoc. */
export interface QuickInfo {
  /** Signature display, e.g. `function f(x: number): string`. */
  signature: string;
  /** TSDoc text and tags as markdown-friendly text. */
  documentation: string;
}

// The minimal structure of the tslab internals used here.
interface TsDiagnostic {
  file?: { fileName: string; text: string };
  start?: number;
  length?: number;
  code: number;
  category: number;
  messageText: string | TsMessageChain;
}
interface TsMessageChain {
  messageText: string;
  next?: TsMessageChain[];
}
/** The part of tslab's converter the compiler uses. */
export interface TslabConverter {
  convert(prevDecl: string, src: string): {
    output?: string;
    declOutput?: string;
    diagnostics: { start: { line: number; character: number }; messageText: string; code: number; fileName?: string }[];
    lastExpressionVar?: string;
    hasToplevelAwait?: boolean;
  };
  inspect(prevDecl: string, src: string, position: number):
    | { displayParts?: { text: string }[]; documentation?: { text: string }[]; tags?: { name: string; text?: { text: string }[] }[] }
    | undefined;
  complete(prevDecl: string, src: string, position: number): {
    start: number;
    end: number;
    candidates: string[];
    original?: { entries: { name: string; kind: string }[] };
  };
  close(): void;
}
interface SourceMapLike {
  findEntry(line: number, column: number): { originalLine?: number; originalColumn?: number } | Record<string, never>;
}

/**
 * Errors the converter causes itself: it appends `export { <every top-level name> }` to the cell,
 * which clashes with a cell's own `export const x` (TS2323 "Cannot redeclare exported variable",
 * TS2484 "Export declaration conflicts with exported declaration"). Exported names work as plain ones.
 */
const EXPORT_SUFFIX_CONFLICTS = new Set([2323, 2484]);

/** The `export {};\n` line the converter puts before every cell. */
const SRC_PREFIX_LINES = 1;

/** Flattens a TypeScript diagnostic message chain into indented lines. */
function flattenMessage(m: string | TsMessageChain, indent = ""): string {
  if (typeof m === "string") return indent + m;
  const lines = [indent + m.messageText];
  for (const n of m.next ?? []) lines.push(flattenMessage(n, indent + "  "));
  return lines.join("\n");
}

/** Line and column of an offset in a text. */
function lineAndColumn(text: string, offset: number): { line: number; character: number } {
  let line = 0;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, character: offset - lineStart };
}

/** Extracts the inline source map of a JavaScript text, if it has one. */
function inlineSourceMap(js: string): unknown | undefined {
  const m = /^\/\/# sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)\s*$/m.exec(js);
  return m ? JSON.parse(Buffer.from(m[1], "base64").toString("utf8")) : undefined;
}

/** Removes the source map comments. */
function stripSourceMap(js: string): string {
  return js.replace(/^\/\/# sourceMappingURL=[^\n]*$/gm, "");
}

/**
 * The compiler for one kernel session: holds tslab's incremental program and the declarations of
 * everything defined so far.
 */
export class CellCompiler {
  #converter: TslabConverter;
  /** Makes a fresh converter over the same patched TypeScript (see {@link CellCompiler.#useConverter}). */
  readonly #newConverter: () => TslabConverter;
  #prevDecl = "";
  #mode: TypecheckMode = "warn";
  /** Every diagnostic of the last type check (the converter only sees the blocking ones). */
  #lastDiagnostics: TsDiagnostic[] = [];
  /** Source map text of the last ESM → CommonJS transpilation. */
  #lastCjsMap: string | undefined;
  /** Inline source map (cell → ESM) of the input of that transpilation. */
  #lastEsmMap: unknown;
  #notebookDir: string;
  readonly #srcFilename: string;

  /**
   * Builds the program (a few hundred milliseconds: it reads lib.d.ts, @types/node and the prelude).
   *
   * @param notebookDir folder relative imports in cells resolve from (the kernel's working directory).
   * @param wrapConverter wraps each converter made (tests use it to make one fail).
   */
  constructor(notebookDir: string, wrapConverter: (converter: TslabConverter) => TslabConverter = (c) => c) {
    this.#notebookDir = notebookDir;
    this.#srcFilename = join(PACKAGE_ROOT, "__tslab__.ts");
    const ts = require("@tslab/typescript-for-tslab") as Record<string, unknown> & {
      sys: Record<string, unknown>;
      resolveModuleName: (...a: unknown[]) => { resolvedModule?: Record<string, unknown> };
      getPreEmitDiagnosticsOfFiles: (program: unknown, files: unknown[]) => TsDiagnostic[];
      createWatchCompilerHost: (...a: unknown[]) => Record<string, unknown>;
      transpileModule: (text: string, opts: { compilerOptions: Record<string, unknown> }) => { outputText: string; sourceMapText?: string };
    };
    const sys = Object.create(ts.sys, { getCurrentDirectory: { value: () => PACKAGE_ROOT, writable: true } });
    const typeRoots = [join(PACKAGE_ROOT, "node_modules", "@types")];
    let watch: { getProgram(): { getProgram(): { getTypeChecker(): ShorthandChecker } } } | undefined;
    const patched = Object.create(ts, {
      __esModule: { value: true },
      sys: { value: sys },
      createWatchCompilerHost: {
        value: (rootFiles: string[], options: Record<string, unknown>, system: unknown, _createProgram: unknown, ...rest: unknown[]) => {
          const host = ts.createWatchCompilerHost(
            [...rootFiles, PRELUDE_PATH],
            { ...options, typeRoots, types: ["node"], inlineSourceMap: true, allowImportingTsExtensions: true },
            system,
            lightBuilderProgramFactory(ts.createProgram as Parameters<typeof lightBuilderProgramFactory>[0]),
            ...rest,
          );
          host.resolveModuleNames = (names: string[], containingFile: string, _reused: unknown, _redirect: unknown, opts: unknown) =>
            names.map((name) => this.#resolveModule(ts, name, containingFile, opts, sys));
          // With custom resolution TypeScript assumes every file's resolutions are stale and rebuilds the
          // whole program per cell; only the cell's own files can resolve differently (new notebook files,
          // a changed notebook folder), library and node_modules resolutions stay valid.
          const cellFiles = new Set([this.#srcFilename, join(PACKAGE_ROOT, "__prev__.d.ts")]);
          host.hasInvalidatedResolutions = (path: string) => cellFiles.has(path);
          return host;
        },
      },
      createWatchProgram: {
        value: (host: unknown) => {
          watch = (ts.createWatchProgram as (h: unknown) => NonNullable<typeof watch>)(host);
          return watch;
        },
      },
      // The converter's rewrite of earlier cells' variables, extended to shorthand properties.
      visitEachChild: {
        value: visitEachChildWithPrevShorthands(
          ts as unknown as ShorthandTsApi,
          () => watch!.getProgram().getProgram().getTypeChecker(),
          join(PACKAGE_ROOT, "__prev__.d.ts"),
        ),
      },
      getPreEmitDiagnosticsOfFiles: {
        value: (program: unknown, files: unknown[]) => {
          // Only the cell is checked: library files are type-checked by the project's own tsc run.
          const p = program as { getSyntacticDiagnostics(f: unknown): TsDiagnostic[]; getSemanticDiagnostics(f: unknown): TsDiagnostic[] };
          const syntactic = p.getSyntacticDiagnostics(files[0]);
          const all = syntactic.length > 0 ? syntactic : p.getSemanticDiagnostics(files[0]).filter((d) => !EXPORT_SUFFIX_CONFLICTS.has(d.code));
          this.#lastDiagnostics = all;
          // Code 1308 (await outside async) must reach tslab: it detects top-level await with it.
          return all.filter((d) => d.code === 1308 || this.#isBlocking(d));
        },
      },
      transpileModule: {
        value: (text: string, opts: { compilerOptions: Record<string, unknown> }) => {
          const out = ts.transpileModule(text, { ...opts, compilerOptions: { ...opts.compilerOptions, sourceMap: true } });
          this.#lastCjsMap = out.sourceMapText;
          this.#lastEsmMap = inlineSourceMap(text);
          return out;
        },
      },
    });
    this.#newConverter = () => wrapConverter(loadConverterModule(patched).createConverter() as TslabConverter);
    this.#converter = this.#newConverter();
  }

  /**
   * Runs one converter call. A call that throws half-way (an interrupt landing in the middle of a
   * compile, a bug) can leave tslab's converter with its rebuild timer pending, after which every
   * later call fails with "Unexpected pending rebuildTimer" until the kernel restarts. So a call
   * that throws replaces the converter with a fresh one, and a call that fails on such a left-over
   * state is retried once on the fresh converter.
   */
  #useConverter<T>(call: (converter: TslabConverter) => T): T {
    try {
      return call(this.#converter);
    } catch (err) {
      this.#replaceConverter();
      if (!/rebuildTimer|clearing unexpected/.test(String((err as Error)?.message))) throw err;
      return call(this.#converter);
    }
  }

  /** Closes the current converter (best effort) and starts a fresh one. */
  #replaceConverter(): void {
    try {
      this.#converter.close();
    } catch {
      // A broken converter may fail to close; the new one does not depend on it.
    }
    this.#converter = this.#newConverter();
  }

  /** The current type-check mode. */
  get typecheck(): TypecheckMode {
    return this.#mode;
  }

  /** Sets how type errors are treated. */
  set typecheck(mode: TypecheckMode) {
    this.#mode = mode;
  }

  /** True when a diagnostic stops the cell from running under the current mode. */
  #isBlocking(d: TsDiagnostic): boolean {
    if (d.category !== 1) return false; // only errors
    return d.code < 2000 || this.#mode === "strict";
  }

  /** Successful module resolutions by containing folder and name (reading package.json files is slow). */
  readonly #resolved = new Map<string, Record<string, unknown>>();

  #resolveModule(
    ts: { resolveModuleName: (...a: unknown[]) => { resolvedModule?: Record<string, unknown> } },
    name: string,
    containingFile: string,
    opts: unknown,
    sys: unknown,
  ): Record<string, unknown> | undefined {
    const fromCell = containingFile === this.#srcFilename || containingFile === join(PACKAGE_ROOT, "__prev__.d.ts");
    const fromLibrary = containingFile.startsWith(join(PACKAGE_ROOT, "lib") + "/");
    if (name === "fsam-lab") return { resolvedFileName: LIBRARY_ENTRY, extension: ".ts", isExternalLibraryImport: true };
    const attempt = (from: string) => {
      const key = `${dirname(from)}\0${name}`;
      let hit = this.#resolved.get(key);
      if (!hit) {
        hit = ts.resolveModuleName(name, from, opts, sys).resolvedModule;
        if (hit) this.#resolved.set(key, hit);
      }
      return hit;
    };
    let found: Record<string, unknown> | undefined;
    if (fromCell) {
      const relative = name.startsWith("./") || name.startsWith("../") || isAbsolute(name);
      found = attempt(join(this.#notebookDir, "__cell__.ts"));
      if (!found && !relative) found = attempt(join(PACKAGE_ROOT, "__cell__.ts"));
      // Modules of the notebook folder are loaded by node at run time, not compiled into the cell.
      if (found) found = { ...found, isExternalLibraryImport: true };
      return found;
    }
    found = attempt(containingFile);
    if (found && fromLibrary) found = { ...found, isExternalLibraryImport: true };
    return found;
  }

  /** Converts the compiler's diagnostics for the cell into cell positions. */
  #cellDiagnostics(filter: (d: TsDiagnostic) => boolean): CellDiagnostic[] {
    const out: CellDiagnostic[] = [];
    for (const d of this.#lastDiagnostics) {
      if (!d.file || d.file.fileName !== this.#srcFilename || d.start === undefined || d.code === 1308) continue;
      if (!filter(d)) continue;
      const pos = lineAndColumn(d.file.text, d.start);
      out.push({ line: pos.line - SRC_PREFIX_LINES, character: pos.character, message: flattenMessage(d.messageText), code: d.code });
    }
    return out;
  }

  /**
   * Compiles a cell against everything defined before it.
   *
   * @returns the JavaScript, or the errors that block it.
   */
  compile(src: string): CompiledCell | CompileFailure {
    this.#lastDiagnostics = [];
    this.#lastCjsMap = undefined;
    this.#lastEsmMap = undefined;
    const r = this.#useConverter((c) => c.convert(this.#prevDecl, src));
    if (r.diagnostics.length > 0 || r.output === undefined) {
      const errors = this.#cellDiagnostics((d) => this.#isBlocking(d));
      if (errors.length === 0) {
        for (const d of r.diagnostics) {
          errors.push({ line: d.start.line, character: d.start.character, message: `${d.fileName ? d.fileName + ": " : ""}${d.messageText}`, code: d.code });
        }
      }
      return { errors };
    }
    const warnings = this.#mode === "off" ? [] : this.#cellDiagnostics((d) => d.category === 1 && !this.#isBlocking(d));
    const cjsMap = this.#lastCjsMap;
    const js = stripSourceMap(r.output);
    const esmMap = this.#lastEsmMap;
    const declOutput = r.declOutput ?? "";
    return {
      js,
      declOutput,
      lastExpressionVar: r.lastExpressionVar,
      hasTopLevelAwait: r.hasToplevelAwait ?? false,
      warnings,
      mapPosition: makePositionMapper(cjsMap, esmMap),
    };
  }

  /** Makes the declarations of a successfully run cell visible to the next ones. */
  commit(cell: CompiledCell): void {
    this.#prevDecl = cell.declOutput;
  }

  /** Completion candidates at `cursor` (a UTF-16 offset into `code`). */
  complete(code: string, cursor: number): Completions {
    const info = this.#useConverter((c) => c.complete(this.#prevDecl, code, cursor));
    const kinds = new Map<string, string>();
    for (const e of info.original?.entries ?? []) if (!kinds.has(e.name)) kinds.set(e.name, e.kind);
    return {
      start: info.start,
      end: info.end,
      candidates: info.candidates.map((text) => ({ text, kind: kinds.get(text) ?? "" })),
    };
  }

  /** Quick info at `cursor`, or undefined when there is nothing there. */
  inspect(code: string, cursor: number): QuickInfo | undefined {
    const info = this.#useConverter((c) => c.inspect(this.#prevDecl, code, cursor));
    if (!info?.displayParts) return undefined;
    const signature = info.displayParts.map((p) => p.text).join("");
    // A name TypeScript cannot resolve shows as a bare `any`: nothing to tell.
    if (signature === "any" && !info.documentation?.length) return undefined;
    const doc = (info.documentation ?? []).map((p) => p.text).join("");
    const tags = (info.tags ?? []).map((t) => `@${t.name}${t.text ? " " + t.text.map((p) => p.text).join("") : ""}`);
    return { signature, documentation: [doc, ...tags].filter((s) => s !== "").join("\n\n") };
  }

  /** Releases the file watchers. */
  close(): void {
    this.#converter.close();
  }

  /** Folder relative imports resolve from. */
  get notebookDir(): string {
    return this.#notebookDir;
  }

  /** Changes the folder relative imports resolve from. */
  set notebookDir(dir: string) {
    this.#notebookDir = resolvePath(dir);
  }
}

/** Composes CommonJS → ESM → cell maps into one lookup. */
function makePositionMapper(cjsMapText: string | undefined, esmMap: unknown): CompiledCell["mapPosition"] {
  const { SourceMap } = Module as unknown as { SourceMap: new (payload: unknown) => SourceMapLike };
  const cjs = cjsMapText ? new SourceMap(JSON.parse(cjsMapText)) : undefined;
  const esm = esmMap ? new SourceMap(esmMap) : undefined;
  return (line, column) => {
    let l = line - 1;
    let c = column;
    for (const map of [cjs, esm]) {
      if (!map) return undefined;
      const e = map.findEntry(l, c);
      if (e.originalLine === undefined || e.originalColumn === undefined) return undefined;
      l = e.originalLine;
      c = e.originalColumn;
    }
    return { line: l - SRC_PREFIX_LINES + 1, column: c };
  };
}

/**
 * Loads tslab's `dist/converter.js` with its `require("@tslab/typescript-for-tslab")` answered by
 * `patchedTs` (the module's exports are read-only getters, so they cannot be patched in place).
 */
function loadConverterModule(patchedTs: unknown): { createConverter(): unknown } {
  const filename = require.resolve("tslab/dist/converter.js");
  const M = Module as unknown as {
    new (id: string, parent?: unknown): { filename: string; paths: string[]; exports: unknown; require: (id: string) => unknown; _compile(src: string, f: string): void };
    _nodeModulePaths(dir: string): string[];
  };
  const mod = new M(filename);
  mod.filename = filename;
  mod.paths = M._nodeModulePaths(dirname(filename));
  const realRequire = createRequire(filename);
  mod.require = (id: string) => (id === "@tslab/typescript-for-tslab" ? patchedTs : realRequire(id));
  mod._compile(readFileSync(filename, "utf8"), filename);
  return mod.exports as { createConverter(): unknown };
}
