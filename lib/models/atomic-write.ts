/**
 * Atomic file writes: the data goes to a temporary file next to the target, which is then renamed
 * over it, so readers never see a half-written file.
 */
import { rename, unlink, writeFile } from "node:fs/promises";

/** Writes `data` to `path` atomically (temp file in the same folder + rename). */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const temp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await writeFile(temp, data);
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}
