/**
 * Leftovers of killed saves: temporary files and folders are named with the writer's pid, so those of
 * processes that no longer exist can be recognised and cleaned on the next save.
 */
import { readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";

/** True when process `pid` exists (signal 0 checks without sending anything). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes the entries of `dir` that `pattern` matches and whose first capture group (a pid) names a
 * process that no longer exists (never this process's own).
 *
 * @returns the names removed.
 */
export function removeStaleTemps(dir: string, pattern: RegExp): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = pattern.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || processAlive(pid)) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/**
 * A folder swap (`target` → `.name.old-*`, new folder → `target`) killed between its two renames
 * leaves no `target`: puts the newest `.old-*` folder of a dead process back.
 *
 * @returns true when a folder was restored.
 */
export function restoreSwappedFolder(dir: string, name: string, target: string): boolean {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return false;
  }
  const prefix = `.${name}.old-`;
  const olds = names
    .filter((n) => n.startsWith(prefix))
    .map((n) => ({ n, pid: Number(n.slice(prefix.length).split("-")[0]), time: Number(n.slice(prefix.length).split("-")[1]) }))
    .filter((o) => o.pid !== process.pid && !processAlive(o.pid))
    .sort((a, b) => b.time - a.time);
  if (olds.length === 0) return false;
  renameSync(join(dir, olds[0].n), target);
  return true;
}

/** `text` with the characters special in a regular expression escaped. */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
