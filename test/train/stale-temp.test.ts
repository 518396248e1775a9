// Saves killed with SIGKILL leave temp files and folders named with their pid: the next save cleans
// them, and a checkpoint swap killed between its two renames is undone (issue 11).
import test from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeFileAtomic } from "../../lib/atomic-write.ts";
import { saveBestCheckpoint } from "../../lib/train/checkpointing.ts";
import type { SequenceModel } from "../../lib/types.ts";

/**
 * Runs `script` (CommonJS, with `pid` defined) in a child process, waits until it prints "ready"
 * (it has left its files), and kills it with SIGKILL.
 */
async function killedMidway(script: string): Promise<void> {
  const child = spawn(process.execPath, ["-e", `const pid = process.pid; const fs = require("node:fs"); ${script}; console.log("ready"); setInterval(() => {}, 1000);`], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => d.toString().includes("ready") && resolve());
    child.once("exit", () => reject(new Error("the child ended before its files were written")));
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}

const model = {} as SequenceModel;
const saveText = (text: string) => async (_m: SequenceModel, dir: string) => writeFileSync(join(dir, "model.txt"), text);

test("writeFileAtomic removes the temp file of a writer killed mid-write", async () => {
  const dir = mkdtempSync(join(tmpdir(), "fsam-stale-"));
  try {
    const target = join(dir, "results.json");
    await killedMidway(`fs.writeFileSync(${JSON.stringify(dir)} + "/.results.json." + pid + ".123.tmp", "half")`);
    assert.equal(readdirSync(dir).length, 1);
    writeFileAtomic(target, "{}");
    assert.deepEqual(readdirSync(dir), ["results.json"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("saveBestCheckpoint: leftovers of a save killed while writing are removed", async () => {
  const dir = mkdtempSync(join(tmpdir(), "fsam-stale-"));
  try {
    const target = join(dir, "best");
    await saveBestCheckpoint(model, target, { state: { step: 1 }, saveModel: saveText("one") });
    await killedMidway(`fs.mkdirSync(${JSON.stringify(dir)} + "/.best.tmp-" + pid + "-1-1"); fs.writeFileSync(${JSON.stringify(dir)} + "/.best.tmp-" + pid + "-1-1/model.txt", "half")`);
    await saveBestCheckpoint(model, target, { state: { step: 2 }, saveModel: saveText("two") });
    assert.deepEqual(readdirSync(dir), ["best"]);
    assert.equal(readFileSync(join(target, "model.txt"), "utf8"), "two");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("saveBestCheckpoint: a swap killed between its two renames is undone (the old checkpoint comes back)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "fsam-stale-"));
  try {
    const target = join(dir, "best");
    await saveBestCheckpoint(model, target, { state: { step: 1 }, saveModel: saveText("one") });
    // The killed save had written its new folder and moved the checkpoint aside, not yet renamed the new one.
    await killedMidway(
      `const d = ${JSON.stringify(dir)}; fs.mkdirSync(d + "/.best.tmp-" + pid + "-2-1"); fs.renameSync(d + "/best", d + "/.best.old-" + pid + "-2-1")`,
    );
    assert.equal(existsSync(target), false);
    // The next save fails while writing: the restored old checkpoint is what remains.
    await assert.rejects(saveBestCheckpoint(model, target, { state: { step: 3 }, saveModel: async () => { throw new Error("disk full"); } }), /disk full/);
    assert.equal(readFileSync(join(target, "model.txt"), "utf8"), "one");
    assert.deepEqual(readdirSync(dir), ["best"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
