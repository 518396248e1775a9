// The kernel refuses process.exit() in a cell, drops replayed messages and exits when orphaned
// (issue 11), through a node client.
import test, { after, before } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { encodeMessage } from "../../kernel/wire.ts";
import { TestKernel } from "./kernel-client.ts";

let k: TestKernel;
before(async () => {
  k = await TestKernel.start();
});
after(async () => {
  await k?.close();
});

test("process.exit() in a cell is refused with a message naming the restart button; the kernel lives on", { timeout: 120_000 }, async () => {
  for (const code of ["process.exit(3)", "setTimeout(() => process.exit(), 0); await new Promise((r) => setTimeout(r, 50));"]) {
    const r = await k.execute(code);
    assert.match(r.stderr, /ProcessExitRefused: process\.exit\(3?\) would kill the kernel.*Kernel > Restart/, JSON.stringify(r));
  }
  assert.equal((await k.execute("1 + 1")).result, "2");
  assert.equal(k.child.exitCode, null);
});

test("throw null / throw undefined are reported as what was thrown", { timeout: 120_000 }, async () => {
  for (const value of ["null", "undefined"]) {
    const r = await k.execute(`throw ${value};`);
    assert.equal(r.reply.status, "error");
    assert.equal(r.reply.evalue, `uncaught ${value}`, JSON.stringify(r.reply));
  }
});

test("a correctly signed message sent twice runs once", { timeout: 120_000 }, async () => {
  await k.execute("globalThis.replayRuns = 0;");
  const frames = encodeMessage(
    { msgType: "execute_request", content: { code: "globalThis.replayRuns += 1;", silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: false } },
    k.session,
    k.signer,
  );
  const id = k.sendFrames(frames);
  await k.reply(id);
  k.sendFrames(frames);
  assert.equal((await k.execute("globalThis.replayRuns")).result, "1");
  assert.match(k.log, /dropped a replayed message/);
});

/** Waits until process `pid` is gone; false after `timeoutMs`. */
async function gone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

test("a kernel whose JPY_PARENT_PID process died exits within seconds", { timeout: 300_000 }, async () => {
  const server = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  const orphan = await TestKernel.start({ JPY_PARENT_PID: String(server.pid) });
  try {
    server.kill("SIGKILL");
    assert.ok(await gone(orphan.child.pid!, 20_000), "the kernel kept running after its server died");
    assert.match(orphan.log, /JPY_PARENT_PID .* ended: shutting down/);
  } finally {
    orphan.child.kill("SIGKILL");
    await orphan.close();
  }
});

test("a kernel whose parent process was killed with SIGKILL exits within seconds", { timeout: 300_000 }, async () => {
  // The kernel runs under a middle process (the "server"), which is then killed.
  const bin = join(import.meta.dirname, "..", "..", "bin", "fsam-lab.js");
  const middle = (file: string) => ({
    cmd: process.execPath,
    args: ["-e", `require("node:child_process").spawn(process.execPath, [${JSON.stringify(bin)}, "kernel", "-f", ${JSON.stringify(file)}], { stdio: "inherit" }); setInterval(() => {}, 1000);`],
  });
  const orphan = await TestKernel.start({}, middle);
  const pid = Number(/\(pid (\d+)\)/.exec(orphan.log)?.[1]);
  try {
    assert.ok(pid > 0, orphan.log);
    orphan.child.kill("SIGKILL");
    assert.ok(await gone(pid, 20_000), "the orphaned kernel kept running");
  } finally {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
    await orphan.close();
  }
});
