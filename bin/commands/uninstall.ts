/**
 * `fsam-lab uninstall [--user | --sys-prefix | --prefix DIR] [--name NAME]`: removes the kernelspec.
 */
import { parseSpecArgs, uninstallKernelSpec } from "../../kernel/kernelspec.ts";

/** One line for `fsam-lab help`. */
export const summary = "remove the Jupyter kernel: uninstall [--user|--sys-prefix|--prefix DIR] [--name NAME]";

/** Removes the kernelspec and says what happened. */
export async function run(argv: string[]): Promise<number> {
  try {
    const { location, name } = parseSpecArgs(argv, "fsam-lab uninstall");
    const dir = uninstallKernelSpec(location, name);
    console.log(dir ? `removed kernelspec '${name}' from ${dir}` : `kernelspec '${name}' is not installed there`);
    return 0;
  } catch (err) {
    console.error((err as Error).message);
    return 2;
  }
}
