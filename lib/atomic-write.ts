/**
 * Atomic file writes: the content goes to a temporary file in the same folder, which is then renamed
 * over the target, so readers never see a half-written file.
 */
import { writeFileSync, renameSync, mkdirSync, rmSync } from "node:fs";
import { dirname, basename, join } from "node:path";
import { escapeRegExp, removeStaleTemps } from "./stale-temp.ts";

/** Writes `data` to `path` atomically (temp file + rename), creating the parent folder if needed. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  // Temp files of writers killed mid-write (named with their pid) are removed.
  removeStaleTemps(dir, new RegExp(`^\\.${escapeRegExp(basename(path))}\\.(\\d+)\\.\\d+\\.tmp$`));
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
