/**
 * A lighter "builder program" for tslab's converter. TypeScript's watch API hands every new Program
 * to a builder; its default (`createEmitAndSemanticDiagnosticsBuilderProgram`) rebuilds the reference
 * map of every file in the program on each update — with the library, lib.d.ts and @types/node that
 * is two thirds of a trivial cell's compile time (≈45 of 70 ms here), spent on bookkeeping for
 * incremental emit that a notebook never uses. The converter only needs the Program itself, per-file
 * emit, and the cell's dependencies; this builder gives exactly that. Programs still reuse the old
 * program's structure, so an update re-parses only the cell.
 */

/** The parts of a TypeScript Program used here. */
interface Program {
  getCompilerOptions(): unknown;
  getSourceFile(fileName: string): SourceFile | undefined;
  getSourceFiles(): readonly SourceFile[];
  emit(...args: unknown[]): unknown;
  getSemanticDiagnostics(sourceFile?: SourceFile): readonly unknown[];
  getSyntacticDiagnostics(sourceFile?: SourceFile): readonly unknown[];
  getGlobalDiagnostics(): readonly unknown[];
  getOptionsDiagnostics(): readonly unknown[];
  getConfigFileParsingDiagnostics(): readonly unknown[];
  getDeclarationDiagnostics(sourceFile?: SourceFile): readonly unknown[];
  getCurrentDirectory(): string;
  getTypeChecker(): unknown;
}

/** The parts of a SourceFile used here (`resolvedModules` is internal to TypeScript 5.0). */
interface SourceFile {
  fileName: string;
  resolvedModules?: { forEach(cb: (entry: { resolvedModule?: { resolvedFileName: string; isExternalLibraryImport?: boolean } }) => void): void };
}

/** Program methods a builder passes straight through. */
const PASSED_THROUGH = [
  "getCompilerOptions",
  "getSourceFile",
  "getSourceFiles",
  "emit",
  "getSemanticDiagnostics",
  "getSyntacticDiagnostics",
  "getGlobalDiagnostics",
  "getOptionsDiagnostics",
  "getConfigFileParsingDiagnostics",
  "getDeclarationDiagnostics",
  "getCurrentDirectory",
] as const;

/** What TypeScript's watch API and tslab's converter call on a builder program. */
export type LightBuilderProgram = Pick<Program, (typeof PASSED_THROUGH)[number]> & {
  /** The program. */
  getProgram(): Program;
  /** The program (never released here). */
  getProgramOrUndefined(): Program;
  /** Nothing to release: the program is kept. */
  releaseProgram(): void;
  /** The file and every file it imports that is compiled with it (not from an external library). */
  getAllDependencies(sourceFile: SourceFile): string[];
};

/** The `createProgram` argument of `ts.createWatchCompilerHost`. */
export type CreateBuilderProgram = (
  rootNames: readonly string[] | undefined,
  options: unknown,
  host: unknown,
  oldProgram: LightBuilderProgram | undefined,
  configFileParsingDiagnostics?: readonly unknown[],
  projectReferences?: readonly unknown[],
) => LightBuilderProgram;

/**
 * Makes the `createProgram` function to give `ts.createWatchCompilerHost`.
 *
 * @param createProgram TypeScript's `ts.createProgram`.
 */
export function lightBuilderProgramFactory(
  createProgram: (rootNames: readonly string[] | undefined, options: unknown, host: unknown, oldProgram?: Program, configFileParsingDiagnostics?: readonly unknown[], projectReferences?: readonly unknown[]) => Program,
): CreateBuilderProgram {
  return (rootNames, options, host, oldProgram, configFileParsingDiagnostics, projectReferences) => {
    const program = createProgram(rootNames, options, host, oldProgram?.getProgramOrUndefined(), configFileParsingDiagnostics, projectReferences);
    // As TypeScript's builders do: the checker binds every file, which also sets the parent pointers
    // that completion and quick info walk.
    program.getTypeChecker();
    const builder = {
      getProgram: () => program,
      getProgramOrUndefined: () => program,
      releaseProgram: () => undefined,
      getAllDependencies: (sourceFile: SourceFile) => compiledDependencies(program, sourceFile),
    } as LightBuilderProgram;
    for (const name of PASSED_THROUGH) (builder as Record<string, unknown>)[name] = (program[name] as (...a: unknown[]) => unknown).bind(program);
    return builder;
  };
}

/** `sourceFile` and, transitively, the modules it imports that are compiled along with it. */
function compiledDependencies(program: Program, sourceFile: SourceFile): string[] {
  const seen = new Set<string>([sourceFile.fileName]);
  const queue = [sourceFile];
  while (queue.length > 0) {
    const file = queue.pop()!;
    file.resolvedModules?.forEach((entry) => {
      const resolved = entry?.resolvedModule;
      if (!resolved || resolved.isExternalLibraryImport || seen.has(resolved.resolvedFileName)) return;
      seen.add(resolved.resolvedFileName);
      const next = program.getSourceFile(resolved.resolvedFileName);
      if (next) queue.push(next);
    });
  }
  return [...seen];
}
