/**
 * `fsam-lab kernel -f <connection_file>`: runs the FSAM Lab Jupyter kernel (Jupyter starts it through
 * the kernelspec written by `fsam-lab install`).
 */
import { printHelpIfAsked } from "../cli-support/parse-flags.ts";

/** One line for `fsam-lab help`. */
export const summary = "run the Jupyter kernel: fsam-lab kernel -f <connection_file>";

/** Parses the arguments and starts the kernel (its sockets keep the process alive until shutdown). */
export async function run(argv: string[]): Promise<number> {
  if (printHelpIfAsked(argv, "usage: fsam-lab kernel -f <connection_file>\n\nRuns the FSAM Lab Jupyter kernel on a connection file written by Jupyter (the kernelspec's command).\n  -f, --connection-file FILE   the connection file")) return 0;
  let file: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "-f" || a === "--connection-file") file = argv[++i];
    else if (a.startsWith("--connection-file=")) file = a.slice("--connection-file=".length);
    else {
      console.error(`fsam-lab kernel: unknown argument '${a}' (usage: fsam-lab kernel -f <connection_file>)`);
      return 2;
    }
  }
  if (!file) {
    console.error("fsam-lab kernel: missing -f <connection_file>");
    return 2;
  }
  const { runKernel } = await import("../../kernel/main.ts");
  await runKernel(file);
  return 0;
}
