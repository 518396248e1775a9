"""Protocol checks jupyter_kernel_test does not cover, through jupyter_client against the installed
kernel: heartbeat while busy, busy/idle and parent headers around every request, execution counts,
display updates, stdin, comms, interrupts (control message and SIGINT; sync and async loops), restart,
bad signatures, malformed messages, stop_on_error, async output routing, tracebacks, type-check modes,
tensor leaks, rich output and ESM-only imports."""
import json
import os
import queue
import struct
import tempfile
import time

import pytest
import zmq
from jupyter_client.manager import start_new_kernel
from jupyter_client.session import Session

from conftest import KERNEL_NAME

TIMEOUT = 60


@pytest.fixture(scope="module")
def notebook_dir():
    """A notebook folder holding an ESM-only package (with top-level await, so require() cannot load it)."""
    d = tempfile.mkdtemp(prefix="fsam-notebook-")
    pkg = os.path.join(d, "node_modules", "esm-only-pkg")
    os.makedirs(pkg)
    with open(os.path.join(pkg, "package.json"), "w") as f:
        json.dump({"name": "esm-only-pkg", "version": "1.0.0", "type": "module", "exports": {"import": "./index.js"}}, f)
    with open(os.path.join(pkg, "index.js"), "w") as f:
        f.write("await Promise.resolve();\nexport default 41;\nexport const named = 'esm';\n")
    with open(os.path.join(d, "helpers.ts"), "w") as f:
        f.write("/** Twice x. */\nexport function double(x: number): number {\n  return 2 * x;\n}\n")
    with open(os.path.join(d, "plain.mjs"), "w") as f:
        f.write("export const answer = 42;\n")
    return d


@pytest.fixture(scope="module")
def kernel(notebook_dir):
    km, kc = start_new_kernel(kernel_name=KERNEL_NAME, startup_timeout=180, cwd=notebook_dir)
    kc.execute_interactive("0", timeout=180)  # builds the TypeScript program once
    yield km, kc
    kc.stop_channels()
    km.shutdown_kernel(now=True)


def drain(kc):
    for get in (kc.get_iopub_msg, kc.get_shell_msg, kc.get_stdin_msg):
        while True:
            try:
                get(timeout=0.05)
            except queue.Empty:
                break


def iopub_for(kc, msg_id, timeout=TIMEOUT):
    """All iopub messages of one request, up to and including its idle status."""
    out = []
    deadline = time.time() + timeout
    while True:
        m = kc.get_iopub_msg(timeout=max(0.1, deadline - time.time()))
        if m["parent_header"].get("msg_id") != msg_id:
            continue
        out.append(m)
        if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
            return out


def shell_reply(kc, msg_id, timeout=TIMEOUT):
    deadline = time.time() + timeout
    while True:
        m = kc.get_shell_msg(timeout=max(0.1, deadline - time.time()))
        if m["parent_header"].get("msg_id") == msg_id:
            return m


def start_cell(kc, code):
    """Sends a cell, waits until the kernel has taken it up (its execute_input) and a bit longer."""
    msg_id = kc.execute(code)
    deadline = time.time() + TIMEOUT
    while True:
        m = kc.get_iopub_msg(timeout=max(0.1, deadline - time.time()))
        if m["parent_header"].get("msg_id") == msg_id and m["msg_type"] == "execute_input":
            break
    time.sleep(0.5)
    return msg_id


def run(kc, code, **kw):
    msg_id = kc.execute(code, **kw)
    reply = shell_reply(kc, msg_id)
    return reply, iopub_for(kc, msg_id)


def outputs(msgs, msg_type):
    return [m for m in msgs if m["msg_type"] == msg_type]


def stdout_text(msgs, name="stdout"):
    return "".join(m["content"]["text"] for m in msgs if m["msg_type"] == "stream" and m["content"]["name"] == name)


def value_of(kc, expr):
    reply, msgs = run(kc, expr)
    assert reply["content"]["status"] == "ok", reply["content"]
    return outputs(msgs, "execute_result")[0]["content"]["data"]["text/plain"]


def raw_dealer(km, channel="shell"):
    """A DEALER socket on a kernel channel, for sending hand-made frames."""
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.DEALER)
    s.linger = 0
    port = getattr(km, f"{channel}_port")
    s.connect(f"tcp://{km.ip}:{port}")
    return s


def test_heartbeat_answers_while_a_cell_is_busy(kernel):
    km, kc = kernel
    drain(kc)
    msg_id = kc.execute("const t0 = Date.now(); while (Date.now() - t0 < 2500) {}")
    time.sleep(0.8)  # the cell is now spinning on the main thread
    hb = zmq.Context.instance().socket(zmq.REQ)
    hb.linger = 0
    hb.connect(f"tcp://{km.ip}:{km.hb_port}")
    t = time.time()
    hb.send(b"ping")
    assert hb.poll(2000), "no heartbeat echo while busy"
    assert hb.recv() == b"ping"
    assert time.time() - t < 2.0
    hb.close()
    assert shell_reply(kc, msg_id)["content"]["status"] == "ok"
    iopub_for(kc, msg_id)


@pytest.mark.parametrize(
    "request_type,content",
    [
        ("kernel_info_request", {}),
        ("complete_request", {"code": "Math.", "cursor_pos": 5}),
        ("inspect_request", {"code": "Math.max", "cursor_pos": 6, "detail_level": 0}),
        ("is_complete_request", {"code": "1 +"}),
        ("history_request", {"hist_access_type": "tail", "n": 2, "output": False, "raw": True}),
        ("comm_info_request", {}),
    ],
)
def test_busy_idle_and_parent_header_around_every_request(kernel, request_type, content):
    _, kc = kernel
    drain(kc)
    msg = kc.session.msg(request_type, content)
    kc.shell_channel.send(msg)
    msg_id = msg["header"]["msg_id"]
    reply = shell_reply(kc, msg_id)
    assert reply["header"]["msg_type"] == request_type.replace("_request", "_reply")
    assert reply["parent_header"]["msg_id"] == msg_id
    assert reply["content"]["status"] in ("ok", "incomplete") or request_type == "is_complete_request"
    states = [m["content"]["execution_state"] for m in iopub_for(kc, msg_id) if m["msg_type"] == "status"]
    assert states == ["busy", "idle"]


def test_kernel_info_names_the_library_and_backend(kernel):
    _, kc = kernel
    msg_id = kc.kernel_info()
    c = shell_reply(kc, msg_id)["content"]
    assert c["implementation"] == "fsam-lab"
    assert c["protocol_version"] == "5.3"
    assert c["language_info"]["codemirror_mode"] == "typescript"
    assert "FSAM Lab" in c["banner"] and "cpu" in c["banner"].lower()


def test_execute_input_and_execution_count(kernel):
    _, kc = kernel
    drain(kc)
    r1, m1 = run(kc, "1")
    n = r1["content"]["execution_count"]
    assert outputs(m1, "execute_input")[0]["content"] == {"code": "1", "execution_count": n}
    assert outputs(m1, "execute_result")[0]["content"]["execution_count"] == n
    r2, m2 = run(kc, "2", silent=True)
    assert outputs(m2, "execute_input") == [] and outputs(m2, "execute_result") == []
    r3, _ = run(kc, "3", store_history=False)
    r4, _ = run(kc, "4")
    assert r4["content"]["execution_count"] == n + 1, "silent and store_history=False cells must not count"


def test_user_expressions(kernel):
    _, kc = kernel
    r, _ = run(kc, "let ue = 20", user_expressions={"double": "ue * 2", "bad": "nope.x"})
    ue = r["content"]["user_expressions"]
    assert ue["double"]["status"] == "ok" and ue["double"]["data"]["text/plain"] == "40"
    assert ue["bad"]["status"] == "error"


def test_update_display_data(kernel):
    _, kc = kernel
    r, msgs = run(kc, 'display("first", { displayId: "d1" });\nupdateDisplay("second", "d1");')
    shown = outputs(msgs, "display_data")[0]["content"]
    updated = outputs(msgs, "update_display_data")[0]["content"]
    assert shown["transient"]["display_id"] == "d1" and shown["data"]["text/plain"] == "'first'"
    assert updated["transient"]["display_id"] == "d1" and updated["data"]["text/plain"] == "'second'"


def test_stdin_input_request(kernel):
    _, kc = kernel
    drain(kc)
    msg_id = kc.execute('const who = await prompt("name? "); console.log("hello " + who)', allow_stdin=True)
    req = kc.get_stdin_msg(timeout=TIMEOUT)
    assert req["msg_type"] == "input_request" and req["content"]["prompt"] == "name? "
    assert req["parent_header"]["msg_id"] == msg_id
    kc.input("ada")
    assert shell_reply(kc, msg_id)["content"]["status"] == "ok"
    assert "hello ada" in stdout_text(iopub_for(kc, msg_id))
    r, msgs = run(kc, 'await prompt("x")', allow_stdin=False)
    assert r["content"]["status"] == "error" and "allow_stdin" in r["content"]["evalue"]


def test_comm_lifecycle(kernel):
    _, kc = kernel
    drain(kc)
    r, _ = run(
        kc,
        'comms.registerTarget("echo", (comm, data) => {\n'
        "  comm.send({ opened: data });\n"
        "  comm.onMessage((d, buffers) => comm.send({ echo: d, sizes: buffers.map((b) => b.length) }, [new Float32Array([1.5, -2])]));\n"
        '  comm.onClose(() => console.log("comm closed"));\n'
        "});",
    )
    assert r["content"]["status"] == "ok"

    def send(msg_type, content):
        msg = kc.session.msg(msg_type, content)
        kc.shell_channel.send(msg)
        return iopub_for(kc, msg["header"]["msg_id"])

    opened = send("comm_open", {"comm_id": "c1", "target_name": "echo", "data": {"x": 1}})
    assert outputs(opened, "comm_msg")[0]["content"] == {"comm_id": "c1", "data": {"opened": {"x": 1}}}
    info_id = kc.comm_info()
    assert shell_reply(kc, info_id)["content"]["comms"] == {"c1": {"target_name": "echo"}}
    msg = kc.session.msg("comm_msg", {"comm_id": "c1", "data": {"ping": 2}})
    kc.session.send(kc.shell_channel.socket, msg, buffers=[b"abc", b"\x00" * 8])
    echoed = outputs(iopub_for(kc, msg["header"]["msg_id"]), "comm_msg")[0]
    assert echoed["content"]["data"] == {"echo": {"ping": 2}, "sizes": [3, 8]}
    assert [bytes(b) for b in echoed["buffers"]] == [struct.pack("<2f", 1.5, -2.0)]
    closed = send("comm_close", {"comm_id": "c1", "data": {}})
    assert "comm closed" in stdout_text(closed)
    info_id = kc.comm_info()
    assert shell_reply(kc, info_id)["content"]["comms"] == {}
    unknown = send("comm_open", {"comm_id": "c2", "target_name": "no-such-target", "data": {}})
    assert outputs(unknown, "comm_close")[0]["content"]["comm_id"] == "c2"
    # kernel-side open
    r, msgs = run(kc, 'const kc1 = comms.open("from-kernel", { hello: 1 }); kc1.close();')
    assert outputs(msgs, "comm_open")[0]["content"]["target_name"] == "from-kernel"
    assert outputs(msgs, "comm_close")[0]["content"]["comm_id"] == outputs(msgs, "comm_open")[0]["content"]["comm_id"]


def test_interrupt_request_stops_a_sync_loop_and_keeps_variables(kernel):
    _, kc = kernel
    drain(kc)
    run(kc, "let spins = 0;")
    msg_id = start_cell(kc, "while (true) { spins++; }")
    intr = kc.session.msg("interrupt_request", {})
    kc.control_channel.send(intr)
    reply = kc.get_control_msg(timeout=TIMEOUT)
    assert reply["msg_type"] == "interrupt_reply" and reply["content"]["status"] == "ok"
    assert reply["parent_header"]["msg_id"] == intr["header"]["msg_id"]
    er = shell_reply(kc, msg_id)
    assert er["content"]["status"] == "error" and er["content"]["ename"] == "KeyboardInterrupt"
    iopub_for(kc, msg_id)
    assert value_of(kc, "spins > 0") == "true"


def interrupt_then_run_the_next_cell(kc, code, rounds):
    """Runs `code` (which never ends by itself), interrupts it with interrupt_request, and checks that
    the next cell, busy with synchronous code right away, is not interrupted too."""
    drain(kc)
    for i in range(rounds):
        msg_id = start_cell(kc, code)
        kc.control_channel.send(kc.session.msg("interrupt_request", {}))
        kc.get_control_msg(timeout=TIMEOUT)
        assert shell_reply(kc, msg_id)["content"]["ename"] == "KeyboardInterrupt"
        reply, _ = run(kc, "{ const t0 = Date.now(); let n = 0; while (Date.now() - t0 < 300) n++; n > 0 }")
        assert reply["content"]["status"] == "ok", f"round {i}: the next cell was interrupted: {reply['content']}"


def test_interrupt_reaches_only_the_cell_it_was_meant_for(kernel):
    """A loop guard takes the request up at once: no signal is sent that could reach the next cell."""
    interrupt_then_run_the_next_cell(kernel[1], "while (true) {}", rounds=5)


def test_interrupt_request_stops_synchronous_code_no_loop_guard_reaches(kernel):
    """Code the kernel did not compile (here made by `new Function`, like a library's own loop) has no
    loop guards: the control thread falls back to SIGINT, and the next cell still runs untouched."""
    interrupt_then_run_the_next_cell(kernel[1], 'const spin = new Function("for (;;) {}") as () => void;\nspin();', rounds=3)


def test_sigint_stops_a_sync_loop(kernel):
    km, kc = kernel
    drain(kc)
    run(kc, "let sigSpins = 0;")
    msg_id = start_cell(kc, "for (;;) { sigSpins++; }")
    km.interrupt_kernel()
    er = shell_reply(kc, msg_id)
    assert er["content"]["ename"] == "KeyboardInterrupt"
    iopub_for(kc, msg_id)
    assert value_of(kc, "sigSpins > 0") == "true"


def test_sigint_stops_an_async_loop_and_fires_the_abort_signal(kernel):
    km, kc = kernel
    drain(kc)
    run(kc, "let ticks = 0; let sawAbort = false;")
    msg_id = start_cell(
        kc,
        'abortSignal().addEventListener("abort", () => { sawAbort = true; });\n'
        "while (true) {\n  await new Promise((r) => setTimeout(r, 10));\n  ticks++;\n}",
    )
    km.interrupt_kernel()
    er = shell_reply(kc, msg_id)
    assert er["content"]["ename"] == "KeyboardInterrupt"
    iopub_for(kc, msg_id)
    first = int(value_of(kc, "ticks"))
    assert first > 0
    assert value_of(kc, "sawAbort") == "true"
    # The iteration that was awaiting when the interrupt came may still finish its body (ticks++)
    # once its timer fires; the loop guard then stops it before another iteration starts.
    time.sleep(0.3)
    second = int(value_of(kc, "ticks"))
    assert second <= first + 1, f"the abandoned loop kept running: {first} → {second}"
    time.sleep(0.3)
    assert int(value_of(kc, "ticks")) == second, "the abandoned loop must stop at its next iteration"


def test_sync_loop_after_await_is_interrupted_by_interrupt_request(kernel):
    _, kc = kernel
    drain(kc)
    msg_id = start_cell(kc, "await new Promise((r) => setTimeout(r, 10));\nwhile (true) {}")
    kc.control_channel.send(kc.session.msg("interrupt_request", {}))
    kc.get_control_msg(timeout=TIMEOUT)
    assert shell_reply(kc, msg_id)["content"]["ename"] == "KeyboardInterrupt"
    iopub_for(kc, msg_id)


def test_bad_signature_is_not_executed(kernel):
    km, kc = kernel
    drain(kc)
    s = raw_dealer(km)
    bad = Session(key=b"not-the-key", username="attacker")
    bad.send(s, "execute_request", {"code": "globalThis.pwned = 1", "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False, "stop_on_error": True})
    unsigned = Session(key=b"", username="attacker")
    unsigned.send(s, "execute_request", {"code": "globalThis.pwned = 2", "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False, "stop_on_error": True})
    assert not s.poll(1500), "a badly signed message got a reply"
    s.close()
    assert value_of(kc, "typeof (globalThis as any).pwned") == "'undefined'"


def test_malformed_messages_get_error_replies_and_the_kernel_survives(kernel):
    km, kc = kernel
    drain(kc)
    s = raw_dealer(km)
    sess = kc.session
    header = sess.pack(sess.msg_header("execute_request"))
    frames = [header, b"{}", b"{}", b"{not json"]
    s.send_multipart([b"<IDS|MSG>", sess.sign(frames)] + frames)
    assert s.poll(10000)
    reply = s.recv_multipart()
    content = json.loads(reply[-1])
    assert content["status"] == "error" and "content" in content["evalue"]
    no_id = dict(sess.msg_header("kernel_info_request"))
    del no_id["msg_id"]
    frames = [sess.pack(no_id), b"{}", b"{}", b"{}"]
    s.send_multipart([b"<IDS|MSG>", sess.sign(frames)] + frames)
    assert s.poll(10000)
    assert "msg_id" in json.loads(s.recv_multipart()[-1])["evalue"]
    sess.send(s, "frobnicate_request", {})
    assert s.poll(10000)
    c = json.loads(s.recv_multipart()[-1])
    assert c["status"] == "error" and c["ename"] == "UnknownMessageType"
    s.send_multipart([b"garbage"])
    s.close()
    assert value_of(kc, "1 + 1") == "2"


def test_stop_on_error_aborts_queued_cells(kernel):
    _, kc = kernel
    drain(kc)
    first = kc.execute('throw new Error("stop here")')
    second = kc.execute("globalThis.afterError = 1")
    third = kc.execute("globalThis.afterError = 2")
    assert shell_reply(kc, first)["content"]["status"] == "error"
    assert shell_reply(kc, second)["content"]["status"] == "aborted"
    assert shell_reply(kc, third)["content"]["status"] == "aborted"
    assert value_of(kc, "typeof (globalThis as any).afterError") == "'undefined'"
    ok = kc.execute('throw new Error("go on")', stop_on_error=False)
    after = kc.execute("globalThis.afterError = 3")
    shell_reply(kc, ok)
    assert shell_reply(kc, after)["content"]["status"] == "ok"


def test_async_output_goes_to_the_cell_that_started_it(kernel):
    _, kc = kernel
    drain(kc)
    a = kc.execute('setTimeout(() => console.log("late from A"), 400);')
    shell_reply(kc, a)
    b = kc.execute("await new Promise((r) => setTimeout(r, 1200));")
    shell_reply(kc, b)
    seen = {}
    deadline = time.time() + 10
    while time.time() < deadline and "late from A" not in json.dumps(seen):
        try:
            m = kc.get_iopub_msg(timeout=1)
        except queue.Empty:
            continue
        if m["msg_type"] == "stream":
            seen.setdefault(m["parent_header"]["msg_id"], []).append(m["content"]["text"])
    assert "late from A" in "".join(seen.get(a, [])), seen
    assert "late from A" not in "".join(seen.get(b, []))


def test_uncaught_error_in_a_timer_is_reported_to_its_cell(kernel):
    _, kc = kernel
    drain(kc)
    a = kc.execute('setTimeout(() => { throw new Error("timer boom"); }, 100);')
    shell_reply(kc, a)
    deadline = time.time() + 10
    found = None
    while time.time() < deadline and found is None:
        try:
            m = kc.get_iopub_msg(timeout=1)
        except queue.Empty:
            continue
        if m["msg_type"] == "error" and m["parent_header"]["msg_id"] == a:
            found = m
    assert found is not None and found["content"]["evalue"] == "timer boom"
    assert value_of(kc, "2 + 2") == "4"


def test_runtime_traceback_names_cell_lines(kernel):
    _, kc = kernel
    r, msgs = run(kc, "function inner() {\n  const o: any = undefined;\n  return o.field;\n}\ninner();")
    c = r["content"]
    assert c["status"] == "error" and c["ename"] == "TypeError"
    n = c["execution_count"]
    tb = "\n".join(c["traceback"])
    assert f"In [{n}] line 3:" in tb and f"In [{n}] line 5:" in tb, tb
    assert outputs(msgs, "error")[0]["content"]["traceback"] == c["traceback"]


def test_type_errors_warn_by_default_and_block_in_strict_mode(kernel):
    _, kc = kernel
    r, msgs = run(kc, "const typed: string = 5;\ntyped")
    assert r["content"]["status"] == "ok"
    warning = stdout_text(msgs, "stderr")
    assert "line 1:7" in warning and "not assignable" in warning
    assert outputs(msgs, "execute_result")[0]["content"]["data"]["text/plain"] == "5"
    r, msgs = run(kc, "%typecheck strict")
    assert "strict" in stdout_text(msgs)
    r, msgs = run(kc, 'globalThis.strictRan = 1;\nconst s2: number = "x";')
    assert r["content"]["status"] == "error" and "line 2:7" in "\n".join(r["content"]["traceback"])
    run(kc, "%typecheck warn")
    assert value_of(kc, "typeof (globalThis as any).strictRan") == "'undefined'"
    r, _ = run(kc, "let broken = ;")
    assert r["content"]["status"] == "error" and r["content"]["ename"] == "SyntaxError"


def test_tensor_leak_is_reported(kernel):
    _, kc = kernel
    r, msgs = run(kc, "const kept = tf.ones([2, 2]);\nconst kept2 = tf.zeros([3]);")
    assert "left 2 new tensors alive" in stdout_text(msgs, "stderr")
    r, msgs = run(kc, "tf.tidy(() => tf.ones([4]).sum().dataSync()[0])")
    assert "new tensor" not in stdout_text(msgs, "stderr")
    # Variables are state the cell means to keep: a neutral note on stdout, not a leak.
    r, msgs = run(kc, "const v1 = tf.tidy(() => tf.variable(tf.zeros([2])));\nconst v2 = tf.tidy(() => tf.variable(tf.ones([3]), false));")
    assert "keeps 2 new tf.Variables" in stdout_text(msgs)
    assert "alive" not in stdout_text(msgs, "stderr")
    r, msgs = run(kc, "const v3 = tf.variable(tf.zeros([2]));")
    assert "keeps 1 new tf.Variable " in stdout_text(msgs)
    assert "left 1 new tensor alive" in stdout_text(msgs, "stderr")


def test_rich_results(kernel):
    _, kc = kernel
    r, msgs = run(kc, "tf.tensor2d([[1, 2], [3, 4]])")
    data = outputs(msgs, "execute_result")[0]["content"]["data"]
    assert data["text/plain"].startswith("Tensor float32 [2, 2]") and "[[1., 2.]" in data["text/plain"]
    assert "<table" in data["text/html"] and data["text/html"].count("<td>") == 4
    r, msgs = run(kc, '({ data: [{ x: [1, 2], y: [3, 4], type: "scatter" }], layout: { title: "t" } })')
    data = outputs(msgs, "execute_result")[0]["content"]["data"]
    assert data["application/vnd.plotly.v1+json"]["data"][0]["y"] == [3, 4]
    assert "newPlot" in data["text/html"]
    r, msgs = run(kc, '({ [Symbol.for("Jupyter.mimebundle")]() { return { "text/markdown": "**md**" }; } })')
    assert outputs(msgs, "execute_result")[0]["content"]["data"]["text/markdown"] == "**md**"
    # Objects written for Deno's kernel: Symbol.for("Jupyter.display"), sync or async.
    r, msgs = run(kc, 'class Deno1 { [Symbol.for("Jupyter.display")]() { return Promise.resolve({ "text/html": "<b>deno</b>" }); } }\nnew Deno1()')
    assert outputs(msgs, "execute_result")[0]["content"]["data"]["text/html"] == "<b>deno</b>"
    r, msgs = run(kc, 'await display({ [Symbol.for("Jupyter.display")]: async () => ({ "text/markdown": "*d*" }) });\nconsole.log("after")')
    assert outputs(msgs, "display_data")[0]["content"]["data"]["text/markdown"] == "*d*"
    assert r["content"]["status"] == "ok"
    r, msgs = run(kc, "new dfd.DataFrame({ a: [1, 2], b: [3, 4] })")
    assert "<table" in outputs(msgs, "execute_result")[0]["content"]["data"]["text/html"]


def test_esm_only_package_import(kernel):
    _, kc = kernel
    r, msgs = run(kc, 'import value, { named } from "esm-only-pkg";\n[value + 1, named]')
    assert r["content"]["status"] == "ok", r["content"]
    assert outputs(msgs, "execute_result")[0]["content"]["data"]["text/plain"] == "[ 42, 'esm' ]"
    r, msgs = run(kc, 'import { hfName } from "fsam-lab";\nhfName("scope/bert.x")')
    assert outputs(msgs, "execute_result")[0]["content"]["data"]["text/plain"] == "'bert.x'"


def test_notebook_folder_modules_import_with_types(kernel):
    _, kc = kernel
    drain(kc)
    reply, msgs = run(kc, 'import { double } from "./helpers.ts";\nimport { answer } from "./plain.mjs";\ndouble(answer)')
    assert reply["content"]["status"] == "ok", reply["content"]
    assert outputs(msgs, "execute_result")[0]["content"]["data"]["text/plain"] == "84"
    # The module's types reach the cell: a wrong argument is a type warning naming the cell line.
    reply, msgs = run(kc, 'import { double as twice } from "./helpers.ts";\nconst bad = twice("x" as unknown as number) + twice(1);\ntwice("y")')
    assert "line 3" in stdout_text(msgs, "stderr") and "string" in stdout_text(msgs, "stderr")


def test_completion_kinds_and_inspect_docs(kernel):
    _, kc = kernel
    msg_id = kc.complete("fsam.hfNa", 9)
    c = shell_reply(kc, msg_id)["content"]
    assert c["matches"] == ["hfName"] and c["cursor_start"] == 5 and c["cursor_end"] == 9
    assert c["metadata"]["_jupyter_types_experimental"][0]["type"] == "function"
    msg_id = kc.inspect("fsam.hfName", 8)
    c = shell_reply(kc, msg_id)["content"]
    assert c["found"] and "hfName(" in c["data"]["text/plain"] and "Hugging Face" in c["data"]["text/markdown"]


def test_help_request_pages_the_documentation(kernel):
    _, kc = kernel
    drain(kc)
    for code in ("fsam.hfName?", "? fsam.hfName"):
        reply, msgs = run(kc, code)
        c = reply["content"]
        assert c["status"] == "ok" and len(c["payload"]) == 1, c
        page = c["payload"][0]
        assert page["source"] == "page" and "hfName(" in page["data"]["text/plain"]
        assert "Hugging Face" in page["data"]["text/markdown"]
        assert outputs(msgs, "execute_result") == []
    reply, msgs = run(kc, "noSuchThing?")
    assert reply["content"]["payload"] == [] and "no documentation found for 'noSuchThing'" in stdout_text(msgs)
    # Optional chaining and `??` are code, not help requests.
    reply, msgs = run(kc, "const maybe: { v?: number } | undefined = { v: 3 };\nmaybe?.v ?? 0")
    assert outputs(msgs, "execute_result")[0]["content"]["data"]["text/plain"] == "3"
    msg_id = kc.is_complete("fsam.FisherSAM?")
    assert shell_reply(kc, msg_id)["content"]["status"] == "complete"


def define_earlier_cell_variables(kc):
    """One cell defining a const, a let, an `export`-ed const and an object; the tests read them later."""
    reply, msgs = run(kc, "const data = 11; let counter = 3; export const exported = 5; const obj = { k: 'v' };")
    assert reply["content"]["status"] == "ok", reply["content"]
    # The converter exports every top-level name itself; an explicit `export` must not warn about it.
    assert stdout_text(msgs, "stderr") == ""


def test_shorthand_properties_read_earlier_cells(kernel):
    _, kc = kernel
    define_earlier_cell_variables(kc)
    assert value_of(kc, "const y = { data }; y") == "{ data: 11 }"
    assert value_of(kc, "({ data, exported, obj })") == "{ data: 11, exported: 5, obj: { k: 'v' } }"
    assert value_of(kc, "const make = () => ({ data, counter }); make()") == "{ data: 11, counter: 3 }"
    assert value_of(kc, "class Holder { v = { data } }; new Holder().v") == "{ data: 11 }"
    # A block's own `data` shadows the earlier cell's: the shorthand must keep naming the inner one.
    assert value_of(kc, "let shadowed: unknown; { const data = 'inner'; shadowed = { data }; } shadowed") == "{ data: 'inner' }"


def test_destructuring_assigns_earlier_cells_variables(kernel):
    _, kc = kernel
    define_earlier_cell_variables(kc)
    assert value_of(kc, "({ counter } = { counter: 8 }); counter") == "8"
    assert value_of(kc, "counter") == "8", "the assignment must reach the earlier cell's variable"
    assert value_of(kc, "({ counter = 21 } = {}); counter") == "21"
    assert value_of(kc, "[counter] = [34]; counter") == "34"
    assert value_of(kc, "const { data: renamed = 0, ...others } = { data, exported }; [renamed, others]") == "[ 11, { exported: 5 } ]"
    assert value_of(kc, "const [first = data] = []; first") == "11"


def test_defaults_templates_and_exports_read_earlier_cells(kernel):
    _, kc = kernel
    define_earlier_cell_variables(kc)
    assert value_of(kc, "function sum(a = data, { b = exported } = {}) { return a + b + data; } sum()") == str(11 + 5 + 11)
    assert value_of(kc, "`data=${data} exported=${exported} nested=${ { data }.data }`") == "'data=11 exported=5 nested=11'"
    assert value_of(kc, "export const twice = exported * 2; twice") == "10"
    assert value_of(kc, "({ twice })") == "{ twice: 10 }"


def test_restart_starts_a_new_session(kernel):
    km, kc = kernel
    run(kc, "let survivesRestart = 1;")
    km.restart_kernel(now=False)
    kc.wait_for_ready(timeout=180)
    drain(kc)
    r, msgs = run(kc, "typeof (globalThis as any).survivesRestart")
    assert r["content"]["execution_count"] == 1
    assert outputs(msgs, "execute_result")[0]["content"]["data"]["text/plain"] == "'undefined'"
    msg_id = kc.history(hist_access_type="tail", n=1000, output=False, raw=True)
    hist = shell_reply(kc, msg_id)["content"]["history"]
    sessions = {h[0] for h in hist}
    assert len(sessions) >= 2, "history from before the restart must persist"
