/**
 * Tests that need system tools (Jupyter, Debian's Python test packages, Chromium) skip with the reason
 * on a developer's machine that lacks them. Under `.ci/run` (which installs them and sets
 * `FSAM_LAB_CI=1`) a missing tool is a failed install step, so the skip becomes an error instead.
 */

/**
 * The `skip` option for tests that need a tool.
 *
 * @param missing why the tool is unavailable, or false/undefined when it is there.
 * @returns `missing` (skip with that reason), or false when nothing is missing.
 * @throws Error naming what is missing when running under `.ci/run`.
 */
export function skipWithoutTool(missing: string | false | undefined): string | false {
  if (!missing) return false;
  if (process.env.FSAM_LAB_CI === "1") throw new Error(`FSAM_LAB_CI=1 (.ci/run) but a required tool is missing: ${missing}`);
  return missing;
}
