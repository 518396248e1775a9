// A comm handler registered by cell code that throws or rejects is shown where the comm message came
// from (issue 11, item 7): an error output and a stderr line whose parent is the comm message, with
// busy/idle around it; the kernel lives on.
import test, { after, before } from "node:test";
import assert from "node:assert/strict";
import { TestKernel } from "./kernel-client.ts";

let k: TestKernel;
before(async () => {
  k = await TestKernel.start();
});
after(async () => {
  await k?.close();
});

/** The types and contents of `msgs`, for assertion messages. */
function describe(msgs: { header: { msg_type: string }; content: Record<string, unknown> }[]): string {
  return JSON.stringify(msgs.map((m) => [m.header.msg_type, m.content]));
}

test("a comm_msg handler that throws: its error shows under the comm_msg, the kernel lives", { timeout: 180_000 }, async () => {
  const setup = await k.execute(
    'comms.registerTarget("boom", (comm) => { comm.onMessage(() => { throw new Error("boom in handler"); }); });\n' +
      'comms.registerTarget("late", (comm) => { comm.onMessage(async () => { await new Promise((r) => setTimeout(r, 10)); throw new Error("late boom"); }); });',
  );
  assert.equal(setup.reply.status, "ok", JSON.stringify(setup));

  const open = k.send("comm_open", { comm_id: "c-boom", target_name: "boom", data: {} });
  await k.iopubFor(open);
  const msgId = k.send("comm_msg", { comm_id: "c-boom", data: { go: 1 } });
  const msgs = await k.iopubFor(msgId);
  const types = msgs.map((m) => m.header.msg_type);
  assert.equal(types[0], "status", describe(msgs));
  assert.equal(msgs[0].content.execution_state, "busy");
  assert.equal(msgs.at(-1)!.content.execution_state, "idle");
  const error = msgs.find((m) => m.header.msg_type === "error");
  assert.ok(error, `no error output under the comm_msg: ${describe(msgs)}`);
  assert.equal(error.parent_header.msg_id, msgId);
  assert.equal(error.content.ename, "Error");
  assert.equal(error.content.evalue, "boom in handler");
  assert.ok((error.content.traceback as string[]).join("\n").includes("boom in handler"));
  const stderr = msgs.filter((m) => m.header.msg_type === "stream" && m.content.name === "stderr").map((m) => String(m.content.text)).join("");
  assert.match(stderr, /comm_msg handler of comm c-boom \(target 'boom'\) failed: Error: boom in handler/);

  // An async handler's rejection arrives after idle, still under its comm_msg.
  const lateOpen = k.send("comm_open", { comm_id: "c-late", target_name: "late", data: {} });
  await k.iopubFor(lateOpen);
  const lateId = k.send("comm_msg", { comm_id: "c-late", data: {} });
  const late = await k.iopubMessage((m) => m.parent_header.msg_id === lateId && m.header.msg_type === "error", 60_000);
  assert.equal(late.content.evalue, "late boom");

  const after = await k.execute("40 + 2");
  assert.equal(after.reply.status, "ok");
  assert.equal(after.result, "42");
  assert.equal(k.child.exitCode, null);
});
