// downloadModel and `fsam-lab download-model` against a local hub on 127.0.0.1 that serves a
// checkpoint this test writes: redirects with X-Linked-Etag, Range resume after a dropped
// connection, checksum mismatch, missing files and an unreachable endpoint.
import test from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { createBertClassifier } from "../../lib/models/classifier.ts";
import { loadPretrained, saveCheckpoint } from "../../lib/models/checkpoint.ts";
import { downloadModel, modelCacheDir } from "../../lib/models/hub.ts";
import type { DownloadProgress } from "../../lib/download.ts";
import { run as downloadModelCommand } from "../../bin/commands/download-model.ts";
import { setHost, type MimeBundle } from "../../lib/host.ts";

await tf.setBackend("cpu");

const root = await mkdtemp(join(tmpdir(), "fsam-hub-"));
const fixture = join(root, "fixture");
const source = createBertClassifier(
  { vocab_size: 20, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 16, max_position_embeddings: 16 },
  { numLabels: 2, seed: 3 },
);
await saveCheckpoint(source, fixture, { vocab: Array.from({ length: 20 }, (_, i) => `w${i}`) });
const files: Record<string, Buffer> = {};
for (const f of ["config.json", "model.safetensors", "vocab.txt"]) files[f] = await readFile(join(fixture, f));
const weightsSha = createHash("sha256").update(files["model.safetensors"]).digest("hex");

interface HubOptions {
  /** Drop the connection halfway through the first download of model.safetensors. */
  dropFirst?: boolean;
  /** Announce this sha256 instead of the real one. */
  announcedSha?: string;
  /** Files the repository lacks. */
  lacking?: string[];
  /** The repository's files, instead of the safetensors checkpoint written above. */
  serve?: Record<string, Buffer>;
}

/** A fake hub: /<id>/resolve/main/<file>; weights redirect to /cdn/ as the real hub does for LFS. */
async function startHub(options: HubOptions = {}) {
  const requests: { path: string; range?: string }[] = [];
  let drops = options.dropFirst ? 1 : 0;
  const served = options.serve ?? files;
  const server = http.createServer((req, res) => {
    const path = req.url ?? "";
    requests.push({ path, range: req.headers.range });
    const m = /^\/([\w.-]+\/[\w.-]+)\/resolve\/main\/([\w.-]+)$/.exec(path);
    if (m && served[m[2]] && !options.lacking?.includes(m[2])) {
      if (m[2] === "model.safetensors") {
        res.writeHead(302, {
          location: "/cdn/blob",
          "x-linked-etag": `"${options.announcedSha ?? weightsSha}"`,
          etag: '"0123456789abcdef0123456789abcdef01234567"',
        });
        res.end();
        return;
      }
      res.writeHead(200, { "content-length": served[m[2]].length, etag: '"0123456789abcdef0123456789abcdef01234567"' });
      res.end(served[m[2]]);
      return;
    }
    if (path === "/cdn/blob") {
      const body = files["model.safetensors"];
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
      const start = range ? Number(range[1]) : 0;
      const headers: Record<string, string | number> = { "content-length": body.length - start, "accept-ranges": "bytes" };
      if (range) headers["content-range"] = `bytes ${start}-${body.length - 1}/${body.length}`;
      res.writeHead(range ? 206 : 200, headers);
      if (drops > 0) {
        drops--;
        res.write(body.subarray(start, start + Math.floor((body.length - start) / 2)), () => res.socket?.destroy());
        return;
      }
      res.end(body.subarray(start));
      return;
    }
    res.writeHead(404);
    res.end("not found");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

test.after(async () => {
  source.dispose();
  await rm(root, { recursive: true, force: true });
});

test("downloads, resumes a dropped transfer with Range, verifies sha256, then serves from cache", async () => {
  const hub = await startHub({ dropFirst: true });
  const cacheDir = join(root, "cache1");
  const id = "test-org/tiny-bert";
  try {
    // First call: no retries, so the dropped connection fails it and leaves a .part file.
    await assert.rejects(
      downloadModel(id, { cacheDir, endpoint: hub.url, retries: 0 }),
      /\/cdn\/blob: connection lost after \d+ bytes|test-org\/tiny-bert\/resolve\/main\/model.safetensors: connection lost after \d+ bytes/,
    );
    const dir = modelCacheDir(id, { cacheDir });
    assert.equal(dir, join(cacheDir, "test-org--tiny-bert"));
    const partSize = (await stat(join(dir, "model.safetensors.part"))).size;
    assert.ok(partSize > 0 && partSize < files["model.safetensors"].length, `part size ${partSize}`);

    const progress: DownloadProgress[] = [];
    const result = await downloadModel(id, { cacheDir, endpoint: hub.url, onProgress: (p) => progress.push(p) });
    assert.equal(result.dir, dir);
    assert.equal(result.cached, false);
    assert.deepEqual(result.absent, []);
    const resumed = hub.requests.filter((r) => r.path === "/cdn/blob").at(-1)!;
    assert.equal(resumed.range, `bytes=${partSize}-`);
    for (const f of ["config.json", "model.safetensors", "vocab.txt"]) {
      assert.ok((await readFile(join(dir, f))).equals(files[f]), `${f} differs`);
    }
    assert.deepEqual((await readdir(dir)).sort(), ["config.json", "download.json", "model.safetensors", "vocab.txt"]);
    const weights = result.files.find((f) => f.name === "model.safetensors")!;
    assert.equal(weights.sha256Verified, true);
    assert.equal(weights.bytes, files["model.safetensors"].length);
    assert.equal(result.files.find((f) => f.name === "config.json")!.sha256Verified, false);
    const last = progress.filter((p) => p.file === "model.safetensors").at(-1)!;
    assert.deepEqual(last, { file: "model.safetensors", bytes: files["model.safetensors"].length, total: files["model.safetensors"].length });
    assert.equal(progress.filter((p) => p.file === "model.safetensors")[0].bytes, partSize, "progress starts at the resumed offset");

    const model = await loadPretrained(dir, { log: false });
    assert.deepEqual(model.variable("bert.pooler.dense.weight").dataSync(), source.variable("bert.pooler.dense.weight").dataSync());
    model.dispose();

    const before = hub.requests.length;
    const again = await downloadModel(id, { cacheDir, endpoint: hub.url });
    assert.equal(again.cached, true);
    assert.equal(hub.requests.length, before, "a cached model needs no network");
  } finally {
    await hub.close();
  }
});

test("a checksum mismatch is refused and leaves no file behind", async () => {
  const hub = await startHub({ announcedSha: "ab".repeat(32) });
  const cacheDir = join(root, "cache2");
  try {
    await assert.rejects(
      downloadModel("org/model", { cacheDir, endpoint: hub.url, retryDelayMs: 0 }),
      new RegExp(`checksum mismatch for .*model.safetensors: expected sha256 ${"ab".repeat(32)}, got ${weightsSha}`),
    );
    const dir = modelCacheDir("org/model", { cacheDir });
    assert.equal(existsSync(join(dir, "model.safetensors")), false);
    assert.equal(existsSync(join(dir, "model.safetensors.part")), false);
  } finally {
    await hub.close();
  }
});

test("missing files: no weights at all is an error, no vocab.txt is noted", async () => {
  const hub = await startHub({ lacking: ["model.safetensors"] });
  try {
    await assert.rejects(
      downloadModel("org/no-weights", { cacheDir: join(root, "cache3"), endpoint: hub.url }),
      /org\/no-weights at revision "main" has none of model.safetensors, model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json: is it a model in Hugging Face format\?/,
    );
  } finally {
    await hub.close();
  }
  const hub2 = await startHub({ lacking: ["vocab.txt"] });
  try {
    const result = await downloadModel("org/no-vocab", { cacheDir: join(root, "cache3"), endpoint: hub2.url });
    assert.deepEqual(result.absent, ["vocab.txt"]);
    assert.deepEqual(result.files.map((f) => f.name), ["config.json", "model.safetensors"]);
  } finally {
    await hub2.close();
  }
});

test("an unreachable endpoint fails fast with a clear message", async () => {
  const hub = await startHub();
  const url = hub.url;
  await hub.close();
  await assert.rejects(
    downloadModel("org/model", { cacheDir: join(root, "cache4"), endpoint: url }),
    new RegExp(`^Error: could not reach ${url}/org/model/resolve/main/config.json: .*ECONNREFUSED.*; check your connection or set HF_ENDPOINT$`),
  );
  await assert.rejects(downloadModel("../etc", { cacheDir: join(root, "cache4") }), /invalid Hugging Face model id "..\/etc"/);
  await assert.rejects(downloadModel("org/model", { cacheDir: join(root, "cache4"), endpoint: url, timeoutMs: 0 }), /timeoutMs must be a positive finite number, got 0/);
});

/** A server on 127.0.0.1 that handles requests with `handler` (which may never answer). */
async function startRawServer(handler: http.RequestListener) {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test("a hub that accepts but never answers: a notice naming the host, then a clear error at the timeout, no retry", async () => {
  let hits = 0;
  const server = await startRawServer(() => {
    hits++; // never respond
  });
  const notices: string[] = [];
  const file = `${server.url}/org/model/resolve/main/config.json`;
  try {
    const started = Date.now();
    await assert.rejects(
      downloadModel("org/model", { cacheDir: join(root, "cache6"), endpoint: server.url, noticeAfterMs: 100, timeoutMs: 700, retryDelayMs: 0, onNotice: (m) => notices.push(m) }),
      (err: Error) => {
        assert.equal(err.message, `no answer from ${server.host} within 0.7 s (GET ${file}); check your connection or set HF_ENDPOINT`);
        return true;
      },
    );
    assert.ok(Date.now() - started < 5000, "gave up at the timeout, not after retries");
    assert.equal(hits, 1, "a server that accepted and never answered is not asked again");
    assert.deepEqual(notices, [`no answer from ${server.host} after 0.1 s (waiting for the response to GET ${file}); still waiting, giving up after 0.7 s`]);
  } finally {
    await server.close();
  }
});

test("a transfer that stalls mid-body: a notice, then a resumable error keeping the bytes that came", async () => {
  const server = await startRawServer((_req, res) => {
    res.writeHead(200, { "content-length": 1000 });
    res.write(Buffer.alloc(10, 120)); // then nothing more
  });
  const notices: string[] = [];
  const cacheDir = join(root, "cache6b");
  try {
    await assert.rejects(
      downloadModel("org/stall", { cacheDir, endpoint: server.url, noticeAfterMs: 100, timeoutMs: 700, retries: 0, onNotice: (m) => notices.push(m) }),
      new RegExp(`config.json: the transfer stalled: no data from ${server.host} for 0.7 s after 10 bytes; check your connection or set HF_ENDPOINT$`),
    );
    assert.deepEqual(notices, [`no data from ${server.host} for 0.1 s after 0.0 MiB of config.json; still waiting, giving up after 0.7 s`]);
    assert.equal((await stat(join(modelCacheDir("org/stall", { cacheDir }), "config.json.part"))).size, 10, "kept for a Range resume");
  } finally {
    await server.close();
  }
});

test("the download-model command prints the local folder and honours HF_ENDPOINT", async () => {
  const hub = await startHub();
  const cacheDir = join(root, "cache5");
  const printed: string[] = [];
  const errors: string[] = [];
  const { log, error } = console;
  const saved = process.env.HF_ENDPOINT;
  const stderrWrite = process.stderr.write;
  process.env.HF_ENDPOINT = hub.url;
  console.log = (...a: unknown[]) => printed.push(a.join(" "));
  console.error = (...a: unknown[]) => errors.push(a.join(" "));
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    assert.equal(await downloadModelCommand(["org/cli-model", "--cache", cacheDir]), 0);
    assert.deepEqual(printed, [join(cacheDir, "org--cli-model")]);
    assert.equal(await downloadModelCommand(["a", "b"]), 2);
    assert.ok(errors.some((e) => e.includes("expected one model id, got 2")));
  } finally {
    console.log = log;
    console.error = error;
    process.stderr.write = stderrWrite;
    if (saved === undefined) delete process.env.HF_ENDPOINT;
    else process.env.HF_ENDPOINT = saved;
    await hub.close();
  }
});

test("in a notebook, progress is one output updated in place", async () => {
  const hub = await startHub();
  const shown: { id: string; bundle: MimeBundle }[] = [];
  setHost({
    display: (bundle, options) => shown.push({ id: options!.displayId!, bundle }),
    updateDisplay: (bundle, id) => shown.push({ id, bundle }),
  });
  try {
    await downloadModel("org/notebook", { cacheDir: join(root, "cache7"), endpoint: hub.url });
    assert.ok(shown.length >= 3);
    assert.equal(new Set(shown.map((s) => s.id)).size, 1, "a single output");
    const finals = shown.map((s) => String(s.bundle["text/plain"])).filter((t) => t.endsWith("(100%)"));
    const size = (files["model.safetensors"].length / 1024 ** 2).toFixed(1);
    assert.ok(finals.includes(`downloading org/notebook: model.safetensors ${size} MiB / ${size} MiB (100%)`), finals.join("\n"));
    assert.match(String(shown.at(-1)!.bundle["text/html"]), /<progress value="1.0000" max="1"/);
  } finally {
    setHost(undefined);
    await hub.close();
  }
});

/** The files of a PyTorch fixture folder (written by test/models/fixtures/make_torch_fixtures.py). */
async function torchFixture(folder: string): Promise<Record<string, Buffer>> {
  const dir = join(import.meta.dirname, "fixtures", "torch", folder);
  const out: Record<string, Buffer> = {};
  for (const f of await readdir(dir)) if (f !== "expected.json") out[f] = await readFile(join(dir, f));
  return out;
}

test("a repository with only pytorch_model.bin, or a sharded one, downloads and loads", async () => {
  for (const folder of ["bert-f32", "bert-sharded"]) {
    const serve = await torchFixture(folder);
    const hub = await startHub({ serve });
    try {
      const result = await downloadModel(`org/${folder}`, { cacheDir: join(root, "cache8"), endpoint: hub.url });
      const weightFiles = Object.keys(serve).filter((f) => f !== "config.json").sort();
      assert.deepEqual(result.files.map((f) => f.name).sort(), ["config.json", ...weightFiles].sort());
      assert.deepEqual(result.absent, ["vocab.txt"]);
      for (const f of result.files) assert.ok((await readFile(f.path)).equals(serve[f.name]), `${f.name} differs`);
      const tried = hub.requests.map((r) => r.path.split("/").pop());
      assert.deepEqual(tried.slice(0, 3), ["config.json", "model.safetensors", "model.safetensors.index.json"], "safetensors are preferred");
      const expected = JSON.parse(await readFile(join(import.meta.dirname, "fixtures", "torch", folder, "expected.json"), "utf8"));
      const model = await loadPretrained(result.dir, { log: false });
      assert.deepEqual(model.variable("bert.pooler.dense.weight").dataSync(), Float32Array.from(expected["bert.pooler.dense.weight"].values));
      model.dispose();
    } finally {
      await hub.close();
    }
  }
  const serve = await torchFixture("bert-sharded");
  delete serve["pytorch_model-00002-of-00002.bin"];
  const hub = await startHub({ serve });
  try {
    await assert.rejects(
      downloadModel("org/half-sharded", { cacheDir: join(root, "cache8"), endpoint: hub.url }),
      /org\/half-sharded at revision "main": pytorch_model.bin.index.json lists pytorch_model-00002-of-00002.bin, which the repository does not have/,
    );
  } finally {
    await hub.close();
  }
});
