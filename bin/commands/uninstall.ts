/**
 * `fsam-lab uninstall [--user | --sys-prefix | --prefix DIR] [--name NAME]`: removes the kernelspec.
 */
import { parseSpecArgs, uninstallKernelSpec } from "../../kernel/kernelspec.ts";
import { printHelpIfAsked } from "../cli-support/parse-flags.ts";

/** One line for `fsam-lab help`. */
export const summary = "remove the Jupyter kernel: uninstall [--user|--sys-prefix|--prefix DIR] [--name NAME]";

/** Removes the kernelspec and says what happened. */
export async function run(argv: string[]): Promise<number> {
  if (printHelpIfAsked(argv, "usage: fsam-lab uninstall [--user | --sys-prefix | --prefix DIR] [--name NAME]\n\nRemoves the FSAM Lab kernelspec.\n  --user         for the current user (default)\n  --sys-prefix   in the Python environment's prefix\n  --prefix DIR   under DIR/share/jupyter/kernels\n  --name NAME    kernelspec name (default fsam-lab)")) return 0;
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
