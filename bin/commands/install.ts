/**
 * `fsam-lab install [--user | --sys-prefix | --prefix DIR] [--name NAME]`: registers the FSAM Lab
 * kernel with Jupyter (no Python needed).
 */
import { installKernelSpec, parseSpecArgs } from "../../kernel/kernelspec.ts";
import { printHelpIfAsked } from "../cli-support/parse-flags.ts";

/** One line for `fsam-lab help`. */
export const summary = "register the Jupyter kernel: install [--user|--sys-prefix|--prefix DIR] [--name NAME]";

/** Installs the kernelspec and says where. */
export async function run(argv: string[]): Promise<number> {
  if (printHelpIfAsked(argv, "usage: fsam-lab install [--user | --sys-prefix | --prefix DIR] [--name NAME]\n\nRegisters the FSAM Lab kernel with Jupyter.\n  --user         for the current user (default)\n  --sys-prefix   in the Python environment's prefix\n  --prefix DIR   under DIR/share/jupyter/kernels\n  --name NAME    kernelspec name (default fsam-lab)")) return 0;
  try {
    const { location, name } = parseSpecArgs(argv, "fsam-lab install");
    const dir = installKernelSpec(location, name);
    console.log(`installed kernelspec '${name}' in ${dir}`);
    return 0;
  } catch (err) {
    console.error((err as Error).message);
    return 2;
  }
}
