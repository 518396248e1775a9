// Pure units of the kernel: wire format and signing, is_complete, renderers, history, code-point
// cursors, loop guards, logo PNG and kernelspec files.
import test from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inflateSync, crc32 } from "node:zlib";
import { Signer, WireError, decodeMessage, encodeMessage, parseConnectionInfo } from "../../kernel/wire.ts";
import { isComplete } from "../../kernel/is-complete.ts";
import { PlotlyHtml, PLOTLY_MIME, frameHtml, isPlotlyFigure, tensorHtml, tensorText, toMimeBundle } from "../../kernel/renderers.ts";
import { History, globToRegExp } from "../../kernel/history.ts";
import { codePointsToUtf16, utf16ToCodePoints } from "../../kernel/code-points.ts";
import { insertLoopGuards, GUARD_NAME } from "../../kernel/loop-guard.ts";
import { logoPng } from "../../kernel/logo.ts";
import { CommRegistry } from "../../kernel/comms.ts";
import { SIGNAL_AFTER_MS, clearInterrupt, createInterruptState, requestInterrupt, signalArrived, signalPending, takeRequest } from "../../kernel/interrupt-state.ts";
import { parseHelpRequest } from "../../kernel/help-request.ts";
import { installKernelSpec, uninstallKernelSpec, parseSpecArgs, CLI_ENTRY } from "../../kernel/kernelspec.ts";

const KEY = "secret-key";

test("messages are signed with HMAC-SHA256 over the four JSON frames", () => {
  const frames = encodeMessage({ msgType: "status", content: { execution_state: "idle" }, identities: [Buffer.from("topic")] }, "sess", new Signer(KEY));
  assert.equal(frames[1].toString(), "<IDS|MSG>");
  const expected = createHmac("sha256", KEY).update(frames[3]).update(frames[4]).update(frames[5]).update(frames[6]).digest("hex");
  assert.equal(frames[2].toString(), expected);
  const header = JSON.parse(frames[3].toString());
  assert.equal(header.msg_type, "status");
  assert.equal(header.version, "5.3");
  assert.equal(header.session, "sess");
});

test("decodeMessage round-trips and rejects bad or missing signatures", () => {
  const signer = new Signer(KEY);
  const frames = encodeMessage({ msgType: "execute_request", content: { code: "1" }, identities: [Buffer.from("id1")], buffers: [Buffer.from([1, 2])] }, "s", signer);
  const msg = decodeMessage(frames, signer);
  assert.deepEqual(msg.identities.map(String), ["id1"]);
  assert.equal(msg.header.msg_type, "execute_request");
  assert.deepEqual(msg.content, { code: "1" });
  assert.deepEqual([...msg.buffers[0]], [1, 2]);
  assert.throws(() => decodeMessage(frames, new Signer("other")), /bad signature/);
  const unsigned = [...frames];
  unsigned[2] = Buffer.from("");
  assert.throws(() => decodeMessage(unsigned, signer), /missing signature/);
  const tampered = [...frames];
  tampered[6] = Buffer.from('{"code":"2"}');
  assert.throws(() => decodeMessage(tampered, signer), /bad signature/);
});

test("decodeMessage names malformed parts", () => {
  const signer = new Signer(KEY);
  const sign = (parts: string[]) => [Buffer.from("<IDS|MSG>"), Buffer.from(signer.sign(parts.map((p) => Buffer.from(p)))), ...parts.map((p) => Buffer.from(p))];
  const header = JSON.stringify({ msg_id: "m", msg_type: "x_request", session: "s", version: "5.3" });
  assert.throws(() => decodeMessage(sign([header, "{}", "{}", "{oops"]), signer), (e: unknown) => e instanceof WireError && /content frame is not valid JSON/.test(e.message) && e.header?.msg_id === "m");
  assert.throws(() => decodeMessage(sign([JSON.stringify({ msg_type: "a", session: "s", version: "5.3" }), "{}", "{}", "{}"]), signer), /'msg_id'/);
  assert.throws(() => decodeMessage(sign([header, "[]", "{}", "{}"]), signer), /parent_header frame must be a JSON object/);
  assert.throws(() => decodeMessage([Buffer.from("x")], signer), /delimiter/);
  assert.throws(() => decodeMessage([Buffer.from("<IDS|MSG>"), Buffer.from("")], signer), /expected 5 frames/);
});

test("connection files are checked field by field", () => {
  const ok = { shell_port: 1, iopub_port: 2, stdin_port: 3, control_port: 4, hb_port: 5, key: "k", ip: "127.0.0.1", transport: "tcp" };
  assert.equal(parseConnectionInfo(ok, "c.json").hb_port, 5);
  assert.throws(() => parseConnectionInfo({ ...ok, hb_port: "x" }, "c.json"), /c\.json: 'hb_port' must be a port number/);
  assert.throws(() => parseConnectionInfo({ ...ok, signature_scheme: "hmac-md5" }, "c.json"), /hmac-md5/);
});

test("is_complete: complete, incomplete with indent, invalid", () => {
  assert.deepEqual(isComplete("let a = 1;"), { status: "complete" });
  assert.deepEqual(isComplete("function f() {"), { status: "incomplete", indent: "  " });
  assert.equal(isComplete("1 +").status, "incomplete");
  assert.equal(isComplete("`multi\nline").status, "incomplete");
  assert.equal(isComplete("let x = ;").status, "invalid");
  assert.equal(isComplete(")").status, "invalid");
});

/** A tensor-shaped value for the renderer (the renderer duck-types tensors). */
function fakeTensor(values: number[][], dtype = "float32") {
  const shape = [values.length, values[0].length];
  return { shape, dtype, size: shape[0] * shape[1], isDisposed: false, arraySync: () => values, dataSync: () => values.flat() };
}

test("tensor renderer: dtype, shape, values, abbreviation and an HTML table", () => {
  const t = fakeTensor([[1, 2.5], [3, 4]]);
  assert.equal(tensorText(t), "Tensor float32 [2, 2]\n[[1., 2.5],\n [3., 4.]]");
  const html = tensorHtml(t)!;
  assert.equal((html.match(/<td>/g) ?? []).length, 4);
  const long = { ...fakeTensor([Array.from({ length: 20 }, (_, i) => i)], "int32") };
  assert.equal(tensorText(long), "Tensor int32 [1, 20]\n[[0, 1, 2, …, 17, 18, 19]]");
  assert.equal(tensorText({ ...t, isDisposed: true }), "Tensor float32 [2, 2] (disposed)");
});

test("Plotly figures, mimebundle objects and plain values", async () => {
  const plotly = new PlotlyHtml();
  assert.equal(isPlotlyFigure({ data: [], layout: {} }), true);
  assert.equal(isPlotlyFigure({ data: {}, layout: {} }), false);
  assert.equal(isPlotlyFigure(new (class { data = []; layout = {}; })()), false);
  const first = await toMimeBundle({ data: [{ y: [1] }], layout: { title: "t" } }, plotly);
  assert.deepEqual(first[PLOTLY_MIME], { data: [{ y: [1] }], layout: { title: "t" } });
  const bundleSize = readFileSync(join(import.meta.dirname, "../../node_modules/plotly.js-dist/plotly.js")).length;
  assert.ok(String(first["text/html"]).length > bundleSize, "the first figure carries plotly.js");
  const second = await toMimeBundle({ data: [], layout: {} }, plotly);
  assert.ok(String(second["text/html"]).length < 5000, "later figures do not");
  const custom = await toMimeBundle({ [Symbol.for("Jupyter.mimebundle")]: () => ({ "text/html": "<i>x</i>" }) }, plotly);
  assert.equal(custom["text/html"], "<i>x</i>");
  assert.equal((await toMimeBundle({ a: [1, 2] }, plotly))["text/plain"], "{ a: [ 1, 2 ] }");
});

test("history: tail, range, search with glob patterns and unique, persisted per session", () => {
  const dir = mkdtempSync(join(tmpdir(), "fsam-hist-"));
  try {
    const file = join(dir, "h.jsonl");
    const h1 = new History(file);
    assert.equal(h1.session, 1);
    h1.add(1, "a = 1", null);
    h1.add(2, "b = 2", "2");
    const h2 = new History(file);
    assert.equal(h2.session, 2);
    h2.add(1, "a = 1", null);
    assert.deepEqual(h2.query({ hist_access_type: "tail", n: 2 }), [[1, 2, "b = 2"], [2, 1, "a = 1"]]);
    assert.deepEqual(h2.query({ hist_access_type: "range", session: 1, start: 2, stop: 3, output: true }), [[1, 2, ["b = 2", "2"]]]);
    assert.deepEqual(h2.query({ hist_access_type: "range", session: 0, start: 1 }), [[2, 1, "a = 1"]]);
    assert.equal(h2.query({ hist_access_type: "search", pattern: "a*" }).length, 2);
    assert.equal(h2.query({ hist_access_type: "search", pattern: "a*", unique: true }).length, 1);
    assert.throws(() => h2.query({ hist_access_type: "nope" }), /tail, range or search/);
    // A crash mid-write leaves a torn last line: it is skipped, and the next entry is not glued to it.
    appendFileSync(file, '{"session": 2, "line": 2, "inp');
    const h3 = new History(file);
    h3.add(1, "c = 3", null);
    const h4 = new History(file);
    assert.deepEqual(h4.query({ hist_access_type: "tail", n: 10 }).map((r) => r[2]), ["a = 1", "b = 2", "a = 1", "c = 3"]);
    assert.equal(globToRegExp("x?y*").test("x.y+z"), true);
    assert.equal(globToRegExp("x?y").test("xy"), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("cursor positions convert between code points and UTF-16", () => {
  const s = "a😀b";
  assert.equal(codePointsToUtf16(s, 2), 3);
  assert.equal(utf16ToCodePoints(s, 3), 2);
  assert.equal(codePointsToUtf16(s, 3), 4);
});

test("loop guards are inserted into every loop body without moving lines", () => {
  const js = "for (let i = 0; i < 3; i++) {\n  x++;\n}\nwhile (a) b();\ndo {} while (c);";
  const out = insertLoopGuards(js);
  assert.equal(out.split(`${GUARD_NAME}();`).length - 1, 3);
  assert.equal(out.split("\n").length, js.split("\n").length);
  let calls = 0;
  const guard = () => {
    calls++;
  };
  new Function(GUARD_NAME, "let x = 0, a = 2, c = false; const b = () => a--;\n" + out)(guard);
  assert.equal(calls, 3 + 2 + 1);
});

test("the logo is a valid RGBA PNG of the asked size, same as the committed files", () => {
  for (const size of [32, 64]) {
    const png = logoPng(size);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.equal(png.readUInt32BE(16), size);
    assert.equal(png.readUInt32BE(20), size);
    const ihdrCrc = png.readUInt32BE(8 + 8 + 13);
    assert.equal(ihdrCrc, crc32(png.subarray(12, 12 + 4 + 13)));
    const idatLen = png.readUInt32BE(33);
    const raw = inflateSync(png.subarray(41, 41 + idatLen));
    assert.equal(raw.length, size * (1 + size * 4));
    assert.deepEqual(png, readFileSync(join(import.meta.dirname, `../../kernel/assets/logo-${size}x${size}.png`)));
  }
  assert.throws(() => logoPng(3), /logo size/);
});

test("kernelspec install/uninstall into a prefix", () => {
  const dir = mkdtempSync(join(tmpdir(), "fsam-spec-"));
  try {
    const { location, name } = parseSpecArgs(["--prefix", dir, "--name", "my-kernel"], "install");
    const specDir = installKernelSpec(location, name);
    assert.equal(specDir, join(dir, "share", "jupyter", "kernels", "my-kernel"));
    const spec = JSON.parse(readFileSync(join(specDir, "kernel.json"), "utf8"));
    assert.deepEqual(spec.argv, [process.execPath, CLI_ENTRY, "kernel", "-f", "{connection_file}"]);
    assert.equal(spec.display_name, "FSAM Lab (TypeScript)");
    assert.equal(spec.interrupt_mode, "signal");
    assert.equal(readFileSync(join(specDir, "logo-64x64.png")).readUInt32BE(16), 64);
    assert.equal(uninstallKernelSpec(location, name), specDir);
    assert.equal(uninstallKernelSpec(location, name), undefined);
    assert.throws(() => parseSpecArgs(["--bogus"], "install"), /unknown option '--bogus'/);
    assert.throws(() => parseSpecArgs(["--name", "a b"], "install"), /--name/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("comm buffers: typed-array views send exactly their bytes; other values are refused", () => {
  const sent: { type: string; content: Record<string, unknown>; buffers?: Buffer[] }[] = [];
  const registry = new CommRegistry((type, content, buffers) => sent.push({ type, content, buffers }), (err) => assert.fail(String(err)));
  const comm = registry.open("t");
  const all = new Float32Array([1, 2, 3, 4]);
  comm.send({ part: true }, [all.subarray(1, 3), new Uint8Array([7]).buffer]);
  const msg = sent.at(-1)!;
  assert.equal(msg.type, "comm_msg");
  assert.deepEqual([...new Float32Array(new Uint8Array(msg.buffers![0]).buffer)], [2, 3]);
  assert.deepEqual([...msg.buffers![1]], [7]);
  assert.throws(() => comm.send({}, ["text" as never]), /comm buffer 0 is not an ArrayBuffer or a typed array/);
  comm.close();
  assert.throws(() => comm.send({}), /is closed/);
});

test("comm handlers that throw or reject are reported with the handler's name; the others still run", async () => {
  const failures: string[] = [];
  const registry = new CommRegistry(() => undefined, (err, where) => failures.push(`${where}: ${(err as Error).message}`));
  const seen: unknown[] = [];
  registry.registerTarget("w", (comm) => {
    comm.onMessage(() => {
      throw new Error("sync boom");
    });
    comm.onMessage(async (data) => {
      seen.push(data);
      throw new Error("async boom");
    });
  });
  registry.registerTarget("bad", () => {
    throw new Error("open boom");
  });
  assert.equal(registry.handleOpen("c1", "w", {}), true);
  assert.equal(registry.handleOpen("c2", "bad", {}), true);
  assert.equal(registry.handleMessage("c1", { n: 1 }, []), true);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(seen, [{ n: 1 }]);
  assert.deepEqual(failures, [
    "comm_open handler of target 'bad' (comm c2): open boom",
    "comm_msg handler of comm c1 (target 'w'): sync boom",
    "comm_msg handler of comm c1 (target 'w'): async boom",
  ]);
});

test("help requests: `name?` and `?name` with dotted names; code with ?. ?? or ternaries is not one", () => {
  assert.equal(parseHelpRequest("fsam.FisherSAM?"), "fsam.FisherSAM");
  assert.equal(parseHelpRequest("  ? tf . tensor  "), "tf.tensor");
  assert.equal(parseHelpRequest("x?"), "x");
  for (const code of ["a?.b", "a ?? b", "a ? b : c", "f()?", "x?\ny?", "?", "1?"]) assert.equal(parseHelpRequest(code), undefined, code);
});

test("DataFrame tables round non-integer numbers to six significant digits and escape text", async () => {
  const { newDataFrame } = await import("../../lib/danfo.ts");
  const df = newDataFrame([{ name: "<b>", loss: 0.123456789, step: 12, small: 1.23456789e-7, bad: NaN }]);
  const html = frameHtml(df as never);
  assert.match(html, /<td>&lt;b&gt;<\/td>/);
  assert.match(html, />0\.123457</);
  assert.match(html, />12</);
  assert.match(html, />1\.23457e-7</);
  assert.match(html, />NaN</);
  assert.doesNotMatch(html, /0\.12345678/);
});

test("interrupt handshake: a request taken up in time sends no signal; a late signal never counts twice", async () => {
  const state = createInterruptState();
  let signals = 0;
  const signal = () => void signals++;
  // Taken up by a loop guard (or the idle main thread) before the deadline: no SIGINT.
  const taken = requestInterrupt(state, signal);
  assert.equal(takeRequest(state), true);
  await taken;
  assert.equal(signals, 0);
  assert.equal(signalPending(state), false);
  assert.equal(takeRequest(state), false, "one request interrupts once");
  // Nobody takes it up: the signal goes out, and interrupts when it arrives.
  const t0 = performance.now();
  await requestInterrupt(state, signal);
  assert.equal(signals, 1);
  assert.ok(performance.now() - t0 >= SIGNAL_AFTER_MS - 5);
  assert.equal(signalPending(state), true);
  // A second request while the first is under way adds no signal of its own.
  await requestInterrupt(state, signal);
  assert.equal(signals, 1);
  assert.equal(signalArrived(state), true);
  assert.equal(signalPending(state), false);
  // A guard takes up a signalled request first: the signal arriving later is ignored.
  await requestInterrupt(state, signal);
  assert.equal(takeRequest(state), true);
  assert.equal(signalPending(state), true, "its signal is still on the way");
  assert.equal(signalArrived(state), false);
  // A SIGINT nobody announced (interrupt_mode "signal") interrupts.
  assert.equal(signalArrived(state), true);
  // A request cleared between cells is never signalled.
  const dropped = requestInterrupt(state, signal);
  clearInterrupt(state);
  await dropped;
  assert.equal(signals, 2, "the cleared request sent none");
});

test("the prelude's tf, fsam and dfd are namespaces usable in types, also under %typecheck strict", async () => {
  const { CellCompiler } = await import("../../kernel/compiler.ts");
  const compiler = new CellCompiler(process.cwd());
  try {
    compiler.typecheck = "strict";
    const cell = compiler.compile("const t: tf.Tensor = tf.zeros([2]);\nconst o: fsam.SAM | undefined = undefined;\nlet f: dfd.DataFrame | undefined;\nconst n: number = tf.memory().numTensors;\ndisplay(n);");
    assert.ok(!("errors" in cell), JSON.stringify("errors" in cell ? cell.errors : []));
    assert.deepEqual(cell.warnings, []);
    const bad = compiler.compile("const u: tf.NoSuchType = 1;");
    assert.ok("errors" in bad && /NoSuchType/.test(bad.errors[0].message));
  } finally {
    compiler.close();
  }
});

test("a converter left broken by an interrupted compile is replaced: the next cell compiles", async () => {
  const { CellCompiler } = await import("../../kernel/compiler.ts");
  let made = 0;
  const compiler = new CellCompiler(process.cwd(), (converter) => {
    made += 1;
    if (made > 1) return converter;
    // The first converter behaves as tslab's does once an interrupt stopped it inside a rebuild.
    return { ...converter, convert: () => { throw new Error("Unexpected pending rebuildTimer"); }, close: () => converter.close() };
  });
  try {
    const first = compiler.compile("const a = 40;");
    assert.ok(!("errors" in first), JSON.stringify("errors" in first ? first.errors : []));
    assert.equal(made, 2, "a fresh converter was made");
    assert.match(first.js, /40/);
    const second = compiler.compile("const b: number = a + 2;");
    assert.ok(!("errors" in second), JSON.stringify("errors" in second ? second.errors : []));
    assert.equal(made, 2, "the fresh converter is kept");
  } finally {
    compiler.close();
  }
});

test("an error thrown inside a compile replaces the converter and reaches the caller", async () => {
  const { CellCompiler } = await import("../../kernel/compiler.ts");
  let made = 0;
  const compiler = new CellCompiler(process.cwd(), (converter) => {
    made += 1;
    if (made > 1) return converter;
    return { ...converter, convert: () => { throw new Error("boom inside the rebuild"); }, close: () => converter.close() };
  });
  try {
    assert.throws(() => compiler.compile("const a = 1;"), /boom inside the rebuild/);
    assert.equal(made, 2, "the converter was replaced");
    const next = compiler.compile("const c = 3;");
    assert.ok(!("errors" in next), JSON.stringify("errors" in next ? next.errors : []));
  } finally {
    compiler.close();
  }
});
