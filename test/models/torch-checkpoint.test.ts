// PyTorch checkpoints written by real PyTorch (test/models/fixtures/make_torch_fixtures.py, run once
// with Debian's python3-torch; the files are committed): every tensor is compared with the values
// PyTorch itself wrote beside it (expected.json), and refused files are refused with clear messages.
import test from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { cp, mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { parseTorchCheckpoint, readTorchCheckpoint } from "../../lib/models/torch-checkpoint.ts";
import { unpickle } from "../../lib/models/pickle.ts";
import { readModelWeights } from "../../lib/models/weight-files.ts";
import { loadPretrained } from "../../lib/models/checkpoint.ts";
import { readSafetensorsFile } from "../../lib/models/safetensors.ts";
import { hfName } from "../../lib/names.ts";
import { run as convertCommand } from "../../bin/commands/convert.ts";

await tf.setBackend("cpu");

const fixtures = join(import.meta.dirname, "fixtures", "torch");

interface Expected {
  dtype: string;
  shape: number[];
  values: (number | boolean)[];
}

function expectedOf(folder: string): Record<string, Expected> {
  return JSON.parse(readFileSync(join(fixtures, folder, "expected.json"), "utf8")) as Record<string, Expected>;
}

const torchDtypes: Record<string, string> = {
  float32: "F32", float16: "F16", bfloat16: "BF16", float64: "F64", int64: "I64", int32: "I32",
  int16: "I16", int8: "I8", uint8: "U8", bool: "BOOL",
};

/** Float32 values PyTorch's numbers become here (float64 and int64 round to float32). */
function asFloat32(values: (number | boolean)[]): Float32Array {
  return Float32Array.from(values, (v) => Number(v));
}

/** Every tensor of `source` matches expected.json: names in order, dtype, shape, values bit for bit. */
function assertMatches(source: { entries: ReadonlyMap<string, { dtype: string; shape: readonly number[] }>; read(name: string): Float32Array }, folder: string): void {
  const expected = expectedOf(folder);
  assert.deepEqual([...source.entries.keys()], Object.keys(expected));
  for (const [name, want] of Object.entries(expected)) {
    const entry = source.entries.get(name)!;
    assert.equal(entry.dtype, torchDtypes[want.dtype], name);
    assert.deepEqual([...entry.shape], want.shape, name);
    assert.deepEqual(source.read(name), asFloat32(want.values), name);
  }
}

test("a tiny BERT state dict in F32 and F16 reads as PyTorch wrote it, int64 position_ids included", async () => {
  for (const folder of ["bert-f32", "bert-f16"]) {
    const checkpoint = await readTorchCheckpoint(join(fixtures, folder, "pytorch_model.bin"));
    assertMatches(checkpoint, folder);
  }
  const f16 = await readTorchCheckpoint(join(fixtures, "bert-f16", "pytorch_model.bin"));
  assert.equal(f16.entries.get("bert.pooler.dense.weight")!.dtype, "F16");
  assert.equal(f16.entries.get("bert.embeddings.position_ids")!.dtype, "I64");
});

test("every dtype a state dict holds: F32, F16, BF16, F64, I64, I32, I16, I8, U8, bool, scalars, empty", async () => {
  const checkpoint = await readTorchCheckpoint(join(fixtures, "dtypes", "dtypes.bin"));
  assertMatches(checkpoint, "dtypes");
  assert.deepEqual([...checkpoint.entries.get("scalar")!.shape], []);
  assert.equal(checkpoint.read("empty").length, 0);
});

test("views: transposed, sliced, permuted and expanded tensors are materialised; shared storages and tied tensors read right", async () => {
  const bytes = await readFile(join(fixtures, "views", "views.bin"));
  const checkpoint = parseTorchCheckpoint(bytes, "views.bin");
  assertMatches(checkpoint, "views");
  // The fixture really holds views: row0, row2 and column1 live in one storage, tied_a/b are one tensor.
  const expected = expectedOf("views");
  assert.notDeepEqual(expected.row0.values, expected.row2.values);
  assert.deepEqual(checkpoint.read("tied_a"), checkpoint.read("tied_b"));
});

test("a state dict nested under state_dict or model, and nn.Parameter values", async () => {
  for (const [folder, file] of [["nested-state-dict", "checkpoint.bin"], ["nested-model", "checkpoint.bin"], ["parameters", "parameters.bin"]]) {
    assertMatches(await readTorchCheckpoint(join(fixtures, folder, file)), folder);
  }
});

test("a sharded checkpoint opens through its index as one set of tensors", async () => {
  const weights = await readModelWeights(join(fixtures, "bert-sharded"));
  assertMatches(weights, "bert-sharded");
  assert.deepEqual(expectedOf("bert-sharded"), expectedOf("bert-f32"), "the shards split the F32 fixture");
});

test("loadPretrained reads pytorch_model.bin, sharded or not, F32 or F16", async () => {
  for (const folder of ["bert-f32", "bert-f16", "bert-sharded"]) {
    const expected = expectedOf(folder);
    const logged: string[] = [];
    const model = await loadPretrained(join(fixtures, folder), { log: (m) => logged.push(m) });
    try {
      assert.deepEqual(model.checkpointReport!.missing, [], folder);
      assert.deepEqual(model.checkpointReport!.unexpected, [], folder);
      assert.equal(logged.length, 0, logged.join("\n"));
      for (const variable of model.variables) {
        const want = expected[hfName(variable.name)];
        assert.ok(want, `no expected values for ${variable.name}`);
        assert.deepEqual(variable.dataSync(), asFloat32(want.values), `${folder}: ${variable.name}`);
      }
    } finally {
      model.dispose();
    }
  }
});

test("a pickle that calls posix.system is refused before anything runs", async () => {
  const path = join(fixtures, "malicious", "pytorch_model.bin");
  await assert.rejects(
    readTorchCheckpoint(path),
    (err: Error) => {
      assert.match(err.message, /malicious\/pytorch_model.bin: refusing to load: the pickle imports posix.system, which is not on the allow-list \(a pickle is a program: loading it runs what it imports\)/);
      assert.match(err.message, /Only collections.OrderedDict, torch._utils._rebuild_tensor_v2, .* are allowed/);
      return true;
    },
  );
  // The refusal comes at the GLOBAL opcode: REDUCE, which would call it, is never reached.
  let called = false;
  const pickle = Buffer.from("\x80\x02cposix\nsystem\nX\x02\x00\x00\x00lsq\x00\x85R.", "latin1");
  assert.throws(() => unpickle(pickle, { globals: new Map([["os.path", () => (called = true)]]), source: "evil" }), /evil: refusing to load: the pickle imports posix.system/);
  assert.equal(called, false);
});

test("the pre-1.6 format, a non-checkpoint and a truncated pickle get clear errors", async () => {
  await assert.rejects(
    readTorchCheckpoint(join(fixtures, "legacy", "legacy.bin")),
    /legacy.bin is in the legacy PyTorch format \(before PyTorch 1.6\), which is not supported: re-save it with a recent PyTorch: torch.save\(torch.load\(path\), path, _use_new_zipfile_serialization=True\)/,
  );
  assert.throws(() => parseTorchCheckpoint(Buffer.from("hello world"), "x.bin"), /x.bin: not a PyTorch checkpoint/);
  assert.throws(() => unpickle(Buffer.from("\x80\x02}q\x00(X\x01\x00\x00", "latin1"), { globals: new Map(), source: "cut" }), /cut: pickle truncated at byte/);
  assert.throws(() => unpickle(Buffer.from("\x80\x02\x81.", "latin1"), { globals: new Map(), source: "obj" }), /obj: unsupported pickle opcode 0x81 at byte 2/);
});

test("fsam-lab convert writes model.safetensors that holds the same float tensors", async () => {
  const root = await mkdtemp(join(tmpdir(), "fsam-convert-"));
  const errors: string[] = [];
  const { error, log } = console;
  console.error = (...a: unknown[]) => errors.push(a.join(" "));
  console.log = () => undefined;
  try {
    for (const folder of ["bert-f16", "bert-sharded"]) {
      const dir = join(root, folder);
      await cp(join(fixtures, folder), dir, { recursive: true });
      assert.equal(await convertCommand([dir]), 0, errors.join("\n"));
      const converted = await readSafetensorsFile(join(dir, "model.safetensors"));
      const original = await readTorchCheckpoint(join(fixtures, "bert-f16", "pytorch_model.bin")).then((c) => (folder === "bert-f16" ? c : undefined));
      const expected = expectedOf(folder);
      const floats = Object.keys(expected).filter((n) => expected[n].dtype.startsWith("float"));
      assert.deepEqual([...converted.entries.keys()], floats, "integer buffers are left out");
      for (const name of floats) {
        assert.deepEqual(converted.read(name), asFloat32(expected[name].values), name);
        if (original) assert.equal(converted.entries.get(name)!.dtype, "F16", "F16 stays F16");
      }
      assert.ok(errors.some((e) => e.includes("left out bert.embeddings.position_ids (I64)")), errors.join("\n"));
      assert.ok(!(await readdir(dir)).some((f) => f.includes(".tmp")), "no temporary file left");
      // A second run refuses to overwrite without --force.
      assert.equal(await convertCommand([dir]), 1);
      assert.ok(errors.at(-1)!.includes("model.safetensors already exists"), errors.at(-1));
      assert.equal(await convertCommand([dir, "--force", "--dtype", "F32"]), 0);
      assert.equal((await readSafetensorsFile(join(dir, "model.safetensors"))).entries.get("classifier.bias")!.dtype, "F32");
    }
    assert.equal(await convertCommand([join(root, "nowhere")]), 1);
  } finally {
    console.error = error;
    console.log = log;
    await rm(root, { recursive: true, force: true });
  }
});
