// Reliability of the running kernel (issue 11), through a node client: after an interrupt that stops
// tfjs mid-operation the next training cell works.
import test, { after, before } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TestKernel } from "./kernel-client.ts";

/** The loops announce they run by creating this file (a blocked main thread sends no output). */
const markerDir = mkdtempSync(join(tmpdir(), "fsam-marker-"));
const marker = join(markerDir, "looping");
const announce = `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "")`;

async function waitForFile(path: string, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`${path} did not appear`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let k: TestKernel;
before(async () => {
  k = await TestKernel.start();
});
after(async () => {
  await k?.close();
  rmSync(markerDir, { recursive: true, force: true });
});

// A step well over 100 ms (400×400 matMuls on the CPU backend): an interrupt_request falls back to
// SIGINT, which lands inside tfjs operations, as the Stop button's SIGINT does.
const SETUP = `
const m = tf.randomNormal([400, 400]);
const v = tf.variable(tf.randomNormal([400, 400], 0, 0.01));
const opt = tf.train.adam(0.01);
const stepLoss = () => tf.matMul(v, m).square().mean() as tf.Scalar;`;

const LOOPS: Record<string, string> = {
  sync: `let n = 0;\nfor (;;) { opt.minimize(stepLoss); if (++n === 1) ${announce}; }`,
  awaited: `let n = 0;\nfor (;;) { opt.minimize(stepLoss); if (++n === 1) ${announce}; await new Promise((r) => setTimeout(r, 0)); }`,
  train: `await fsam.train({ maxSteps: 100000, batchSize: 8, progress: "off", onStep: (row) => { if (row.step === 1) ${announce}; } });`,
};

// The next training cell: a gradient, a SAM step and an Adam step on the variable that survived.
const CHECK = `
const g = tf.grad((x: tf.Tensor) => x.square().sum())(tf.tensor1d([1, 2]));
const w = tf.variable(tf.ones([4]));
const sam = new fsam.SAM(tf.train.sgd(0.1), { rho: 0.05 });
const c = sam.minimize(() => w.square().sum() as tf.Scalar, true)!;
opt.minimize(stepLoss);
const ok = [g.arraySync().join(","), c.dataSync()[0], v.isDisposed, v.dataSync().every(Number.isFinite), w.dataSync()[0] < 1];
tf.dispose([g, c, w]); sam.dispose();
ok.join(" ")`;

for (const loop of ["sync", "awaited", "train"]) {
  for (const how of ["SIGINT", "interrupt_request"]) {
    test(`training works after ${how} stops a ${loop} loop`, { timeout: 240_000 }, async () => {
      const setup = await k.execute(SETUP);
      assert.equal(setup.reply.status, "ok", JSON.stringify(setup));
      rmSync(marker, { force: true });
      const id = k.send("execute_request", { code: LOOPS[loop], silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: false });
      await waitForFile(marker);
      if (how === "SIGINT") k.child.kill("SIGINT");
      else await k.interruptRequest();
      const reply = await k.reply(id);
      assert.equal(reply.content.ename, "KeyboardInterrupt", JSON.stringify(reply.content));
      await k.iopubFor(id);
      const check = await k.execute(CHECK);
      assert.equal(check.reply.status, "ok", JSON.stringify(check));
      assert.equal(check.result, "'2,4 4 false true true'", JSON.stringify(check));
    });
  }
}
