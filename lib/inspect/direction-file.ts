/**
 * Saving and loading landscape directions so two models can be compared on the same directions.
 * The file is a standard safetensors file (readable by Python's `safetensors`): an 8-byte
 * little-endian header length, a JSON header (space-padded to a multiple of 8 bytes) naming each
 * tensor `d<index>/<HF name>` with dtype F32, shape and byte offsets, then the raw little-endian data.
 * The directions' labels, kinds and seeds are in the header's `__metadata__`. Writes are atomic.
 */
import { readFileSync } from "node:fs";
import { writeFileAtomic } from "../atomic-write.ts";
import type { Direction, DirectionKind, WeightSnapshot } from "./directions.ts";

interface TensorEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** Writes the directions to `path` as a safetensors file. */
export function saveDirections(path: string, directions: readonly Direction[]): void {
  const header: Record<string, unknown> = {};
  const chunks: Float32Array[] = [];
  let offset = 0;
  directions.forEach((d, i) => {
    for (const [name, { shape, data }] of d.values) {
      header[`d${i}/${name}`] = { dtype: "F32", shape, data_offsets: [offset, offset + data.byteLength] } satisfies TensorEntry;
      chunks.push(data);
      offset += data.byteLength;
    }
  });
  header.__metadata__ = {
    format: "fsam-lab-directions",
    directions: JSON.stringify(directions.map((d) => ({ label: d.label, kind: d.kind, seed: d.seed ?? null }))),
  };
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, "utf8");
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let pos = 8 + headerBytes.length;
  for (const c of chunks) {
    const bytes = Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    if (bytes.length > 0) {
      // Float32Array memory is little-endian on every platform Node supports.
      bytes.copy(out, pos);
    }
    pos += c.byteLength;
  }
  writeFileAtomic(path, out);
}

/** Reads directions written by {@link saveDirections}. */
export function loadDirections(path: string): Direction[] {
  const buf = readFileSync(path);
  if (buf.length < 8) throw new Error(`${path}: too short to be a safetensors file`);
  const headerLength = Number(buf.readBigUInt64LE(0));
  if (8 + headerLength > buf.length) throw new Error(`${path}: header length ${headerLength} exceeds the file size ${buf.length}`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + headerLength).toString("utf8"));
  } catch (err) {
    throw new Error(`${path}: the safetensors header is not valid JSON (${(err as Error).message})`);
  }
  const meta = header.__metadata__ as Record<string, string> | undefined;
  if (!meta || meta.format !== "fsam-lab-directions") throw new Error(`${path}: not an fsam-lab directions file (no __metadata__.format)`);
  const infos = JSON.parse(meta.directions) as { label: string; kind: DirectionKind; seed: number | null }[];
  const values: WeightSnapshot[] = infos.map(() => new Map());
  const dataStart = 8 + headerLength;
  for (const [key, raw] of Object.entries(header)) {
    if (key === "__metadata__") continue;
    const m = /^d(\d+)\/(.+)$/.exec(key);
    const entry = raw as TensorEntry;
    if (!m || Number(m[1]) >= infos.length) throw new Error(`${path}: unexpected tensor ${key}`);
    if (entry.dtype !== "F32") throw new Error(`${path}: tensor ${key} has dtype ${entry.dtype}, expected F32`);
    const [begin, end] = entry.data_offsets;
    const size = entry.shape.reduce((a, b) => a * b, 1);
    if (end - begin !== size * 4 || dataStart + end > buf.length) throw new Error(`${path}: tensor ${key} has bad offsets [${begin}, ${end}]`);
    const data = new Float32Array(size);
    Buffer.from(data.buffer).set(buf.subarray(dataStart + begin, dataStart + end));
    values[Number(m[1])].set(m[2], { shape: entry.shape, data });
  }
  return infos.map((info, i) => {
    const d: Direction = { label: info.label, kind: info.kind, values: values[i] };
    if (info.seed !== null) d.seed = info.seed;
    return d;
  });
}
