/**
 * Variable naming convention. tfjs variable names must be unique in the process, so a model whose
 * Hugging Face parameter names are already taken registers them under a scope: `scope/hfName`.
 * Hugging Face names never contain '/', so the part after the last '/' is always the HF name.
 */

/** The Hugging Face parameter name of a tfjs variable name (drops any `scope/` prefix). */
export function hfName(variableName: string): string {
  return variableName.slice(variableName.lastIndexOf("/") + 1);
}

/** The scope of a tfjs variable name ("" when it has none). */
export function scopeOf(variableName: string): string {
  const i = variableName.lastIndexOf("/");
  return i < 0 ? "" : variableName.slice(0, i);
}
