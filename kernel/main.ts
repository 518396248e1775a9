/**
 * Starts the kernel from a Jupyter connection file (what `fsam-lab kernel -f <file>` runs).
 */
import { readFileSync } from "node:fs";
import { Kernel } from "./kernel.ts";
import { parseConnectionInfo } from "./wire.ts";
import { watchParent } from "./parent-watch.ts";

/**
 * Runs the kernel until it is shut down.
 *
 * @param connectionFile path of the connection file Jupyter wrote.
 * @returns never resolves while the kernel serves; the process exits on shutdown.
 */
export async function runKernel(connectionFile: string): Promise<void> {
  const realStderr = process.stderr.write.bind(process.stderr);
  const log = (text: string) => void realStderr(`[fsam-lab kernel] ${text}\n`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(connectionFile, "utf8"));
  } catch (err) {
    throw new Error(`cannot read connection file ${connectionFile}: ${(err as Error).message}`);
  }
  const kernel = new Kernel(parseConnectionInfo(raw, connectionFile), log);
  const started = performance.now();
  await kernel.start();
  log(`ready in ${Math.round(performance.now() - started)} ms (pid ${process.pid})`);
  process.on("SIGTERM", () => void kernel.close().then(() => process.exit(0)));
  // An orphaned kernel (its Jupyter server killed) shuts itself down within seconds.
  watchParent((reason) => {
    log(`${reason}: shutting down`);
    void kernel.close().then(() => process.exit(0));
  });
}
