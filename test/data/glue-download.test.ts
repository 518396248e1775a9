// downloadGlue and the download-glue CLI against a local 127.0.0.1 server that serves archives and
// MRPC files this test builds; also the ZIP reader (stored + deflated entries, CRC check), resuming
// from a partial download, HTTP errors and the offline message.
import test from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { crc32, deflateRawSync } from "node:zlib";
import { downloadGlue, downloadableTasks } from "../../lib/data/glue-download.ts";
import { readZip } from "../../lib/data/zip.ts";
import { loadTask } from "../../lib/data/readers.ts";
import { run as cli } from "../../bin/commands/download-glue.ts";

/** Builds a ZIP archive (deflated when `deflate`) with a local header + central directory per file. */
function makeZip(files: Record<string, string>, deflate: boolean): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, text] of Object.entries(files)) {
    const data = Buffer.from(text);
    const body = deflate ? deflateRawSync(data) : data;
    const nameBytes = Buffer.from(name);
    // The two headers share one run of fields (version needed … name length), the central one 2 bytes later.
    const header = (size: number, signature: number, at: number) => {
      const h = Buffer.alloc(size);
      h.writeUInt32LE(signature, 0);
      h.writeUInt16LE(20, at);
      h.writeUInt16LE(deflate ? 8 : 0, at + 4);
      h.writeUInt32LE(crc32(data), at + 10);
      h.writeUInt32LE(body.length, at + 14);
      h.writeUInt32LE(data.length, at + 18);
      h.writeUInt16LE(nameBytes.length, at + 22);
      return h;
    };
    const local = header(30, 0x04034b50, 4);
    const central = header(46, 0x02014b50, 6);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, body);
    centrals.push(central, nameBytes);
    offset += 30 + nameBytes.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(files).length, 8);
  end.writeUInt16LE(Object.keys(files).length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

const rteTrain = "index\tsentence1\tsentence2\tlabel\n0\tA man sleeps.\tA man is awake.\tnot_entailment\n1\tIt rains.\tIt is wet.\tentailment\n2\tx\ty\tentailment\n";
const rteDev = "index\tsentence1\tsentence2\tlabel\n0\tP\tH\tentailment\n";
const rteZip = makeZip({ "RTE/": "", "RTE/train.tsv": rteTrain, "RTE/dev.tsv": rteDev, "__MACOSX/RTE/._train.tsv": "junk" }, true);
const cbZip = makeZip({ "CB/train.jsonl": '{"premise": "p", "hypothesis": "h", "label": "neutral", "idx": 0}\n', "CB/val.jsonl": '{"premise": "q", "hypothesis": "r", "label": "contradiction", "idx": 0}\n' }, false);
const mrpcTrain = "\uFEFFQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\r\n1\t11\t12\tA \"quote.\tB\r\n0\t21\t22\tC\tD\r\n1\t31\t32\tE\tF\r\n";
const mrpcDevIds = "21\t22\r\n";

const files: Record<string, Buffer> = {
  "/glue/data/RTE.zip": rteZip,
  "/glue/superglue/data/v2/CB.zip": cbZip,
  "/senteval/senteval_data/msr_paraphrase_train.txt": Buffer.from(mrpcTrain),
  "/glue/data/mrpc_dev_ids.tsv": Buffer.from(mrpcDevIds),
};
const requests: { url: string; range?: string }[] = [];
let server: Server;
let endpoint = "";

test.before(async () => {
  server = createServer((req, res) => {
    requests.push({ url: req.url!, range: req.headers.range });
    const body = files[req.url!];
    if (!body) {
      res.writeHead(404).end("not found");
      return;
    }
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    if (range) {
      const from = Number(range[1]);
      res.writeHead(206, { "content-length": body.length - from, "content-range": `bytes ${from}-${body.length - 1}/${body.length}` }).end(body.subarray(from));
    } else {
      res.writeHead(200, { "content-length": body.length }).end(body);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  endpoint = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
});
test.after(() => new Promise<void>((resolve) => server.close(() => resolve())));

test("readZip: stored and deflated entries, folders skipped, CRC checked", () => {
  for (const deflate of [false, true]) {
    const zip = makeZip({ "a/": "", "a/x.txt": "hello ".repeat(50), "b.txt": "" }, deflate);
    const entries = readZip(zip);
    assert.deepEqual(entries.map((e) => e.name), ["a/x.txt", "b.txt"]);
    assert.equal(entries[0]!.read().toString(), "hello ".repeat(50));
    assert.equal(entries[1]!.read().length, 0);
  }
  const corrupt = Buffer.from(makeZip({ "x.txt": "abcdef" }, false));
  corrupt[30 + 5] = "z".charCodeAt(0); // first data byte
  assert.throws(() => readZip(corrupt, "bad.zip")[0]!.read(), /bad\.zip: x\.txt fails its CRC\/size check/);
  assert.throws(() => readZip(Buffer.from("not a zip at all, clearly not"), "t.zip"), /t\.zip: not a ZIP archive/);
});

test("downloads GLUE RTE, SuperGLUE CB and MRPC; loadTask reads them; second run skips", async () => {
  const dir = mkdtempSync(join(tmpdir(), "fsam-glue-"));
  const progress: number[] = [];
  const results = await downloadGlue(["rte", "cb", "mrpc"], { dir, endpoint, onProgress: (e) => progress.push(e.received) });
  assert.deepEqual(results.map((r) => [r.task, r.skipped, r.files.length]), [["rte", false, 2], ["cb", false, 2], ["mrpc", false, 2]]);
  assert.ok(!existsSync(join(dir, "glue", "__MACOSX")));
  assert.deepEqual(loadTask("rte", dir, "train").map((e) => e.label), [1, 0, 0]);
  assert.deepEqual(loadTask("cb", dir, "dev").map((e) => e.label), [1]);
  const mrpcTrainRows = loadTask("mrpc", dir, "train");
  assert.deepEqual(mrpcTrainRows.map((e) => e.textA), ['A "quote.', "E"]);
  assert.deepEqual(loadTask("mrpc", dir, "dev").map((e) => [e.textA, e.label]), [["C", 0]]);
  assert.ok(progress.length >= 4);
  assert.ok(!existsSync(join(dir, ".downloads", "RTE.zip")));
  const again = await downloadGlue(["rte"], { dir, endpoint });
  assert.equal(again[0]!.skipped, true);
  const forced = await downloadGlue(["rte"], { dir, endpoint, force: true });
  assert.equal(forced[0]!.skipped, false);
});

test("an interrupted download resumes with a Range request", async () => {
  const dir = mkdtempSync(join(tmpdir(), "fsam-glue-"));
  mkdirSync(join(dir, ".downloads"), { recursive: true });
  const half = Math.floor(rteZip.length / 2);
  writeFileSync(join(dir, ".downloads", "RTE.zip.part"), rteZip.subarray(0, half));
  requests.length = 0;
  await downloadGlue(["rte"], { dir, endpoint });
  assert.deepEqual(requests, [{ url: "/glue/data/RTE.zip", range: `bytes=${half}-` }]);
  assert.equal(readFileSync(join(dir, "glue", "RTE", "train.tsv"), "utf8"), rteTrain);
});

test("HTTP errors, offline endpoints and unknown tasks give clear messages", async () => {
  const dir = mkdtempSync(join(tmpdir(), "fsam-glue-"));
  await assert.rejects(downloadGlue(["wic"], { dir, endpoint }), /WiC\.zip answered HTTP 404/);
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
  const port = (closed.address() as { port: number }).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  await assert.rejects(downloadGlue(["cb"], { dir, endpoint: `http://127.0.0.1:${port}` }), /could not reach http:\/\/127\.0\.0\.1:\d+\/glue\/superglue\/data\/v2\/CB\.zip: .*ECONNREFUSED.*; are you offline\?/);
  assert.throws(() => downloadableTasks(["default"]), /task 'default' has nothing to download/);
  assert.deepEqual(downloadableTasks(["superglue"]), ["boolq", "cb", "copa", "superglue-rte", "wic"]);
  assert.deepEqual(downloadableTasks(["MNLI-m", "mnli-mm", "SST-2"]), ["mnli", "sst2"]);
});

test("CLI: download-glue <task> --dir --endpoint", async () => {
  const dir = mkdtempSync(join(tmpdir(), "fsam-glue-"));
  const log = console.log;
  const lines: string[] = [];
  console.log = (...args: unknown[]) => void lines.push(args.join(" "));
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    assert.equal(await cli(["cb", "--dir", dir, "--endpoint", endpoint]), 0);
    assert.equal(await cli(["cb", "--dir"]), 2);
    assert.equal(await cli([]), 2);
  } finally {
    console.log = log;
    process.stderr.write = write;
  }
  assert.match(lines[0]!, /^cb: 2 file\(s\) in .*superglue\/CB$/);
  assert.equal(loadTask("cb", dir, "train").length, 1);
});
