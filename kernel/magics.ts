/** Cell magics: `%typecheck [strict|warn|off]` lines set or print the type-checking mode. */
import type { TypecheckMode } from "./compiler.ts";
import type { LazyCompiler } from "./lazy-compiler.ts";
import { CompileError } from "./traceback.ts";

/**
 * Applies `%typecheck` lines and returns the code without them (each becomes an empty line, so line
 * numbers stay).
 *
 * @throws CompileError for a `%typecheck` mode that does not exist.
 */
export function applyMagics(code: string, compiler: LazyCompiler): string {
  const lines = code.split("\n");
  const kept: string[] = [];
  for (const line of lines) {
    const m = /^\s*%typecheck(?:\s+(\S+))?\s*$/.exec(line);
    if (!m) {
      kept.push(line);
      continue;
    }
    const mode = m[1];
    if (mode === undefined) {
      console.log(`type checking: ${compiler.get().typecheck}`);
    } else if (mode === "strict" || mode === "warn" || mode === "off") {
      compiler.get().typecheck = mode as TypecheckMode;
      console.log(`type checking: ${mode}`);
    } else {
      throw new CompileError({ ename: "UsageError", evalue: `%typecheck takes strict, warn or off, got '${mode}'`, traceback: [`UsageError: %typecheck takes strict, warn or off, got '${mode}'`] });
    }
    kept.push(""); // keep line numbers
  }
  return kept.join("\n");
}
