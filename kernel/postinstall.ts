/**
 * npm `postinstall`: registers the kernel for the current user when Jupyter's data dir is writable,
 * and says what it did. Never fails the install. Set FSAM_LAB_NO_KERNELSPEC=1 to skip.
 */
import { accessSync, constants, existsSync } from "node:fs";
import { dirname } from "node:path";
import { installKernelSpec, kernelsDir } from "./kernelspec.ts";

/** The nearest existing folder at or above `path`. */
function existingAncestor(path: string): string {
  let p = path;
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  return p;
}

/** Registers the kernelspec if possible; returns the message it printed. */
export function postinstall(): string {
  if (process.env.FSAM_LAB_NO_KERNELSPEC === "1") return "fsam-lab: FSAM_LAB_NO_KERNELSPEC=1, Jupyter kernel not registered";
  const target = kernelsDir({ kind: "user" });
  try {
    accessSync(existingAncestor(target), constants.W_OK);
  } catch {
    return `fsam-lab: ${target} is not writable; register the Jupyter kernel with 'npx fsam-lab install --prefix DIR' or '--sys-prefix'`;
  }
  try {
    const dir = installKernelSpec({ kind: "user" });
    return `fsam-lab: registered the Jupyter kernel "FSAM Lab (TypeScript)" in ${dir} (remove with 'npx fsam-lab uninstall')`;
  } catch (err) {
    return `fsam-lab: could not register the Jupyter kernel (${(err as Error).message}); run 'npx fsam-lab install' later`;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(postinstall());
