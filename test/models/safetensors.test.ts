// The safetensors reader/writer against hand-encoded bytes, round trips and malformed files.
import test from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  encodeSafetensors,
  parseSafetensors,
  readSafetensorsFile,
  writeSafetensorsFile,
} from "../../lib/models/safetensors.ts";

/** A safetensors file assembled by hand: u64 LE header length, header JSON, data bytes. */
function handMade(header: unknown, data: number[], headerText?: string): Uint8Array {
  const json = Buffer.from(headerText ?? JSON.stringify(header));
  const out = Buffer.alloc(8 + json.length + data.length);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  Buffer.from(data).copy(out, 8 + json.length);
  return out;
}

/** Little-endian bytes of 16-bit words. */
function le16(words: number[]): number[] {
  return words.flatMap((w) => [w & 0xff, w >> 8]);
}

test("decodes F16, BF16, F32, F64 and I64 from hand-encoded bytes", () => {
  const f16 = [0x3c00, 0xc000, 0x3555, 0x0001, 0x7bff, 0x7c00, 0x8000, 0x0400];
  const bf16 = [0x3f80, 0xc040, 0x3eab, 0x4049];
  const f32 = Buffer.alloc(8);
  f32.writeFloatLE(0.1, 0);
  f32.writeFloatLE(-123.5, 4);
  const f64 = Buffer.alloc(8);
  f64.writeDoubleLE(2.5, 0);
  const i64 = Buffer.alloc(16);
  i64.writeBigInt64LE(7n, 0);
  i64.writeBigInt64LE(-3n, 8);
  const data = [...le16(f16), ...le16(bf16), ...f32, ...f64, ...i64];
  let o = 0;
  const at = (n: number) => [o, (o += n)];
  const header = {
    __metadata__: { format: "pt" },
    half: { dtype: "F16", shape: [2, 4], data_offsets: at(16) },
    brain: { dtype: "BF16", shape: [4], data_offsets: at(8) },
    single: { dtype: "F32", shape: [2], data_offsets: at(8) },
    double: { dtype: "F64", shape: [1], data_offsets: at(8) },
    ids: { dtype: "I64", shape: [1, 2], data_offsets: at(16) },
  };
  const file = parseSafetensors(handMade(header, data));
  assert.deepEqual(file.metadata, { format: "pt" });
  assert.deepEqual([...file.entries.keys()], ["half", "brain", "single", "double", "ids"]);
  assert.deepEqual(file.entries.get("half")!.shape, [2, 4]);
  assert.deepEqual([...file.read("half")], [1, -2, 0.333251953125, 2 ** -24, 65504, Infinity, -0, 2 ** -14]);
  assert.ok(Object.is(file.read("half")[6], -0));
  assert.deepEqual([...file.read("brain")], [1, -3, 0.333984375, 3.140625]);
  assert.deepEqual([...file.read("single")], [Math.fround(0.1), -123.5]);
  assert.deepEqual([...file.read("double")], [2.5]);
  assert.deepEqual([...file.read("ids")], [7, -3]);
});

test("F32 round trip is bit-exact, including NaN, -0 and subnormals", () => {
  const values = new Float32Array([1.5, -0, NaN, 1e-45, 3.4028234663852886e38, -Infinity, Math.PI]);
  const bytes = encodeSafetensors([
    { name: "a", shape: [7], data: values },
    { name: "b.weight", shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
    { name: "ünïcödé", shape: [1], data: new Float32Array([7]) },
  ]);
  const headerLength = Number(Buffer.from(bytes).readBigUInt64LE(0));
  assert.equal(headerLength % 8, 0, "header padded to 8 bytes");
  const file = parseSafetensors(bytes);
  assert.deepEqual(new Uint32Array(file.read("a").buffer), new Uint32Array(values.buffer));
  assert.deepEqual(file.entries.get("b.weight"), { name: "b.weight", dtype: "F32", shape: [2, 3], begin: 28, end: 52 });
  assert.deepEqual([...file.read("ünïcödé")], [7]);
});

test("F16 and BF16 writing rounds to nearest even, with overflow and underflow", () => {
  const values = new Float32Array([1 / 3, 65520, 65519, 1e-8, 2 ** -25, 3 * 2 ** -25, -2, 2 ** -14 * 1.5]);
  const half = parseSafetensors(encodeSafetensors([{ name: "x", shape: [8], data: values }], { dtype: "F16" }));
  const e = half.entries.get("x")!;
  assert.equal(e.dtype, "F16");
  const raw = encodeSafetensors([{ name: "x", shape: [8], data: values }], { dtype: "F16" });
  const start = raw.length - 16;
  const words = Array.from({ length: 8 }, (_, i) => raw[start + 2 * i] | (raw[start + 2 * i + 1] << 8));
  assert.deepEqual(words, [0x3555, 0x7c00, 0x7bff, 0x0000, 0x0000, 0x0002, 0xc000, 0x0600]);
  assert.deepEqual([...half.read("x")], [0.333251953125, Infinity, 65504, 0, 0, 2 ** -23, -2, 2 ** -14 * 1.5]);

  const brain = encodeSafetensors([{ name: "y", shape: [3], data: new Float32Array([1 / 3, -1, 1 + 2 ** -8]) }], { dtype: "BF16" });
  const s = brain.length - 6;
  const bw = Array.from({ length: 3 }, (_, i) => brain[s + 2 * i] | (brain[s + 2 * i + 1] << 8));
  // 1/3 = 0x3EAAAAAB rounds up; 1 + 2^-8 = 0x3F808000 is a tie and rounds to even 0x3F80.
  assert.deepEqual(bw, [0x3eab, 0xbf80, 0x3f80]);
});

test("malformed files give clear errors", () => {
  const good = encodeSafetensors([{ name: "w", shape: [4], data: new Float32Array([1, 2, 3, 4]) }]);
  assert.throws(() => parseSafetensors(good.subarray(0, 5), "m.safetensors"), /m.safetensors: file too short \(5 bytes\)/);
  assert.throws(() => parseSafetensors(good.subarray(0, good.length - 3), "m.safetensors"), /tensor "w": data_offsets \[0, 16\] out of range: the data buffer has 13 bytes \(truncated file\?\)/);
  assert.throws(() => parseSafetensors(good.subarray(0, 20), "m.safetensors"), /header length \d+ exceeds the 12 bytes after it/);
  assert.throws(() => parseSafetensors(handMade(null, [], '{"w": {"dtype": "F32",'), "m.safetensors"), /m.safetensors: header is not valid JSON/);
  assert.throws(() => parseSafetensors(handMade({ w: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }, [1, 2, 3])), /data_offsets \[0, 16\] out of range: the data buffer has 3 bytes/);
  assert.throws(
    () => parseSafetensors(handMade({ w: { dtype: "F32", shape: [3], data_offsets: [0, 16] } }, new Array(16).fill(0))),
    /tensor "w": shape \[3\] of F32 needs 12 bytes but data_offsets \[0, 16\] span 16/,
  );
  assert.throws(() => parseSafetensors(handMade({ w: { dtype: "Q4", shape: [1], data_offsets: [0, 1] } }, [0])), /tensor "w": unsupported dtype "Q4"/);
  assert.throws(() => parseSafetensors(handMade({ w: { dtype: "F32", shape: [1], data_offsets: [4, 0] } }, [0, 0, 0, 0])), /data_offsets must be \[begin, end\]/);
  assert.throws(() => parseSafetensors(handMade({ w: { dtype: "F32", shape: [-1], data_offsets: [0, 0] } }, [])), /shape must be an array of non-negative integers/);
  assert.throws(
    () =>
      parseSafetensors(
        handMade(
          { a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F32", shape: [2], data_offsets: [4, 12] } },
          new Array(12).fill(0),
        ),
      ),
    /tensors "a" and "b" overlap/,
  );
  assert.throws(() => parseSafetensors(handMade([1, 2], [])), /header must be a JSON object/);
  assert.throws(() => parseSafetensors(good).read("nope"), /no tensor "nope"/);
  assert.throws(() => encodeSafetensors([{ name: "w", shape: [3], data: new Float32Array(4) }]), /shape \[3\] has 3 elements but data has 4/);
});

test("files are written atomically and read back; read errors name the file", async () => {
  const dir = await mkdtemp(join(tmpdir(), "fsam-st-"));
  try {
    const path = join(dir, "model.safetensors");
    const data = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i));
    await writeSafetensorsFile(path, [{ name: "x", shape: [10, 100], data }], { metadata: { format: "pt" } });
    assert.deepEqual(await readdir(dir), ["model.safetensors"], "no temp file left");
    const file = await readSafetensorsFile(path);
    assert.deepEqual(file.read("x"), data);
    await writeFile(path, (await readFile(path)).subarray(0, 1000));
    await assert.rejects(readSafetensorsFile(path), new RegExp(`${path}: tensor "x": data_offsets .* out of range`));
    await assert.rejects(readSafetensorsFile(join(dir, "missing.safetensors")), /cannot read .*missing.safetensors/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
