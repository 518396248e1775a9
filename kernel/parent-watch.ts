/**
 * Orphan detection: a kernel whose Jupyter server died (killed with SIGKILL, say) must not run on
 * forever. Like ipykernel's ParentPollerUnix, the kernel polls its parent: when its parent process
 * changes (it was re-parented to init or a subreaper) or the process named by `JPY_PARENT_PID` (which
 * Jupyter servers set) no longer exists, the kernel shuts down.
 */

import { processAlive } from "../lib/stale-temp.ts";

/** How often the parent is checked (ms). */
export const PARENT_POLL_MS = 1000;

/**
 * Calls `onOrphaned` once (with a reason) when the parent goes away. The timer does not keep the
 * process alive.
 *
 * @param env the environment to read `JPY_PARENT_PID` from.
 * @returns a function that stops watching.
 */
export function watchParent(onOrphaned: (reason: string) => void, env: NodeJS.ProcessEnv = process.env, intervalMs = PARENT_POLL_MS): () => void {
  const parent = process.ppid;
  const jpy = Number(env.JPY_PARENT_PID);
  const jpyParent = Number.isInteger(jpy) && jpy > 1 ? jpy : undefined;
  const timer = setInterval(() => {
    let reason: string | undefined;
    if (process.ppid !== parent) reason = `its parent process ${parent} ended`;
    else if (jpyParent !== undefined && !processAlive(jpyParent)) reason = `the Jupyter server (JPY_PARENT_PID ${jpyParent}) ended`;
    if (reason !== undefined) {
      clearInterval(timer);
      onOrphaned(reason);
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
