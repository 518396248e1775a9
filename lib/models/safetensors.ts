/**
 * A reader and writer of the safetensors format (https://huggingface.co/docs/safetensors):
 * an 8-byte little-endian u64 header length N, N bytes of JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {…}}` (offsets relative to
 * the data buffer), then the little-endian data buffer. Tensors are decoded to float32.
 */
import { readFile } from "node:fs/promises";
import { writeFileAtomic } from "../atomic-write.ts";

/** Element types this reader decodes (all to float32). */
export type SafetensorsDtype = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

/** Element types the writer can store. */
export type SafetensorsWriteDtype = "F32" | "F16" | "BF16";

const bytesPerElement: Record<SafetensorsDtype, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** Largest header this reader accepts (the reference implementation's limit is 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

/** One tensor's header entry; offsets are relative to the start of the data buffer. */
export interface SafetensorsEntry {
  /** Tensor name. */
  readonly name: string;
  /** Stored element type. */
  readonly dtype: SafetensorsDtype;
  /** Shape. */
  readonly shape: readonly number[];
  /** First byte in the data buffer. */
  readonly begin: number;
  /** One past the last byte in the data buffer. */
  readonly end: number;
}

/** A parsed safetensors file: its header entries, metadata, and a float32 decoder per tensor. */
export interface SafetensorsContents {
  /** The `__metadata__` string map (empty when absent). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Header entries by tensor name, in header order. */
  readonly entries: ReadonlyMap<string, SafetensorsEntry>;
  /** Decodes a tensor to a new float32 array (row-major, `shape`'s element count). */
  read(name: string): Float32Array;
}

/** A tensor to write: name, shape and row-major float32 values. */
export interface SafetensorsTensor {
  /** Tensor name. */
  readonly name: string;
  /** Shape. */
  readonly shape: readonly number[];
  /** Row-major values; length must equal the product of `shape`. */
  readonly data: Float32Array;
}

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error("safetensors.ts assumes a little-endian host");
}

let float16Table: Float32Array | undefined;

/** Float32 values of all 65536 IEEE half-precision bit patterns. */
function float16Values(): Float32Array {
  if (float16Table) return float16Table;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0) table[h] = sign * mantissa * 2 ** -24;
    else if (exponent === 31) table[h] = mantissa ? NaN : sign * Infinity;
    else table[h] = sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  float16Table = table;
  return table;
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** IEEE half-precision bits of a float32 value, rounding to nearest even; overflow gives ±Infinity. */
function float16Bits(value: number): number {
  scratchF32[0] = value;
  const x = scratchU32[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    let half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
  return sign | half;
}

/** bfloat16 bits of a float32 value (its upper 16 bits, rounded to nearest even). */
function bfloat16Bits(value: number): number {
  scratchF32[0] = value;
  const x = scratchU32[0];
  if (Number.isNaN(value)) return ((x >>> 16) & 0x8000) | 0x7fc0;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

function isDtype(value: unknown): value is SafetensorsDtype {
  return typeof value === "string" && Object.prototype.hasOwnProperty.call(bytesPerElement, value);
}

/** A copy of `bytes[begin, end)` in a fresh (hence aligned) buffer (Buffer#slice would not copy). */
function alignedCopy(bytes: Uint8Array, begin: number, end: number): ArrayBuffer {
  const copy = new Uint8Array(end - begin);
  copy.set(bytes.subarray(begin, end));
  return copy.buffer;
}

function decode(dtype: SafetensorsDtype, raw: ArrayBuffer): Float32Array {
  switch (dtype) {
    case "F32":
      return new Float32Array(raw);
    case "F64":
      return Float32Array.from(new Float64Array(raw));
    case "F16": {
      const table = float16Values();
      const bits = new Uint16Array(raw);
      const out = new Float32Array(bits.length);
      for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
      return out;
    }
    case "BF16": {
      const bits = new Uint16Array(raw);
      const out = new Uint32Array(bits.length);
      for (let i = 0; i < bits.length; i++) out[i] = bits[i] << 16;
      return new Float32Array(out.buffer);
    }
    case "I64": {
      const ints = new BigInt64Array(raw);
      const out = new Float32Array(ints.length);
      for (let i = 0; i < ints.length; i++) out[i] = Number(ints[i]);
      return out;
    }
    case "I32":
      return Float32Array.from(new Int32Array(raw));
    case "I16":
      return Float32Array.from(new Int16Array(raw));
    case "I8":
      return Float32Array.from(new Int8Array(raw));
    case "U8":
    case "BOOL":
      return Float32Array.from(new Uint8Array(raw));
  }
}

/** Decodes little-endian `dtype` elements held in `bytes` to a new float32 array. */
export function decodeToFloat32(dtype: SafetensorsDtype, bytes: Uint8Array): Float32Array {
  return decode(dtype, alignedCopy(bytes, 0, bytes.length));
}

function parseEntry(name: string, value: unknown, dataLength: number, source: string): SafetensorsEntry {
  const where = `${source}: tensor "${name}"`;
  if (typeof value !== "object" || value === null) throw new Error(`${where}: header entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (!isDtype(dtype)) {
    throw new Error(`${where}: unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(bytesPerElement).join(", ")})`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new Error(`${where}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
    offsets[0] > offsets[1]
  ) {
    throw new Error(`${where}: data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataLength) {
    throw new Error(
      `${where}: data_offsets [${begin}, ${end}] out of range: the data buffer has ${dataLength} bytes (truncated file?)`,
    );
  }
  const expected = (shape as number[]).reduce((n, d) => n * d, 1) * bytesPerElement[dtype];
  if (end - begin !== expected) {
    throw new Error(
      `${where}: shape [${shape.join(", ")}] of ${dtype} needs ${expected} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
    );
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

/**
 * Parses safetensors bytes. Validates the header length, the JSON, every entry (dtype, shape,
 * offsets within the data buffer, byte size = elements × dtype size, no overlaps); errors name
 * `source` and the tensor.
 */
export function parseSafetensors(bytes: Uint8Array, source = "safetensors data"): SafetensorsContents {
  if (bytes.length < 8) {
    throw new Error(`${source}: file too short (${bytes.length} bytes) to hold the 8-byte header length`);
  }
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(bytes.length - 8)) {
    throw new Error(`${source}: header length ${headerLength} exceeds the ${bytes.length - 8} bytes after it (truncated or not safetensors?)`);
  }
  if (headerLength > BigInt(MAX_HEADER_BYTES) || headerLength < 2n) {
    throw new Error(`${source}: implausible header length ${headerLength} (not a safetensors file?)`);
  }
  const dataStart = 8 + Number(headerLength);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, dataStart)));
  } catch (err) {
    throw new Error(`${source}: header is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new Error(`${source}: header must be a JSON object`);
  }
  const dataLength = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries = new Map<string, SafetensorsEntry>();
  for (const [name, value] of Object.entries(header)) {
    if (name === "__metadata__") {
      if (typeof value !== "object" || value === null) throw new Error(`${source}: __metadata__ must be an object`);
      for (const [k, v] of Object.entries(value)) metadata[k] = String(v);
      continue;
    }
    entries.set(name, parseEntry(name, value, dataLength, source));
  }
  const sorted = [...entries.values()].sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].begin < sorted[i - 1].end) {
      throw new Error(`${source}: tensors "${sorted[i - 1].name}" and "${sorted[i].name}" overlap in the data buffer`);
    }
  }
  return {
    metadata,
    entries,
    read(name: string): Float32Array {
      const entry = entries.get(name);
      if (entry === undefined) throw new Error(`${source}: no tensor "${name}"`);
      return decode(entry.dtype, alignedCopy(bytes, dataStart + entry.begin, dataStart + entry.end));
    },
  };
}

/** Reads and parses a safetensors file; errors name the file. */
export async function readSafetensorsFile(path: string): Promise<SafetensorsContents> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new Error(`cannot read ${path}: ${(err as Error).message}`);
  }
  return parseSafetensors(bytes, path);
}

/**
 * Encodes tensors as safetensors bytes, in the given order, stored as `dtype` (default F32, which
 * round-trips float32 bit for bit). The header is space-padded to a multiple of 8 bytes.
 */
export function encodeSafetensors(
  tensors: readonly SafetensorsTensor[],
  options: { dtype?: SafetensorsWriteDtype; metadata?: Record<string, string> } = {},
): Uint8Array {
  const dtype = options.dtype ?? "F32";
  if (!["F32", "F16", "BF16"].includes(dtype)) throw new Error(`dtype must be F32, F16 or BF16, got ${dtype}`);
  const size = bytesPerElement[dtype];
  const header: Record<string, unknown> = {};
  if (options.metadata) header.__metadata__ = options.metadata;
  let offset = 0;
  for (const t of tensors) {
    const count = t.shape.reduce((n, d) => n * d, 1);
    if (count !== t.data.length) {
      throw new Error(`tensor "${t.name}": shape [${t.shape.join(", ")}] has ${count} elements but data has ${t.data.length}`);
    }
    if (t.name === "__metadata__" || Object.prototype.hasOwnProperty.call(header, t.name)) {
      throw new Error(`tensor name "${t.name}" is reserved or used twice`);
    }
    header[t.name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + count * size] };
    offset += count * size;
  }
  const text = JSON.stringify(header);
  const textBytes = new TextEncoder().encode(text).length;
  const padded = Math.ceil(textBytes / 8) * 8;
  const json = new TextEncoder().encode(text + " ".repeat(padded - textBytes));
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  let position = 8 + padded;
  for (const t of tensors) {
    if (dtype === "F32") {
      out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), position);
    } else {
      const bits = new Uint16Array(t.data.length);
      const convert = dtype === "F16" ? float16Bits : bfloat16Bits;
      for (let i = 0; i < bits.length; i++) bits[i] = convert(t.data[i]);
      out.set(new Uint8Array(bits.buffer), position);
    }
    position += t.data.length * size;
  }
  return out;
}

/** Writes tensors to a safetensors file atomically (temp file + rename); see {@link encodeSafetensors}. */
export async function writeSafetensorsFile(
  path: string,
  tensors: readonly SafetensorsTensor[],
  options: { dtype?: SafetensorsWriteDtype; metadata?: Record<string, string> } = {},
): Promise<void> {
  writeFileAtomic(path, encodeSafetensors(tensors, options));
}
