/**
 * A reader of PyTorch checkpoints (`pytorch_model.bin`) in the zip format `torch.save` writes since
 * PyTorch 1.6: `<archive>/data.pkl` is a protocol-2 pickle of the state dict whose persistent ids
 * name raw little-endian storages `<archive>/data/<key>`; each tensor is
 * `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …)`. The pickle is read with an
 * allow-list of the constructors a state dict needs (lib/models/pickle.ts): nothing is imported or
 * run, and a checkpoint that needs anything else is refused with the name of what it wanted.
 */
import { readFile } from "node:fs/promises";
import { readZip, type ZipEntry } from "../data/zip.ts";
import { type PickleGlobal, unpickle } from "./pickle.ts";
import { type SafetensorsDtype, decodeToFloat32 } from "./safetensors.ts";
import type { TensorInfo, TensorSource } from "./tensor-source.ts";

/** One tensor of a PyTorch checkpoint. */
export interface TorchTensorEntry extends TensorInfo {
  /** Element type, in safetensors' names. */
  readonly dtype: SafetensorsDtype;
}

/** A parsed PyTorch checkpoint: its tensors by state-dict name, in the checkpoint's order. */
export interface TorchCheckpoint extends TensorSource {
  /** Tensors by state-dict name. */
  readonly entries: ReadonlyMap<string, TorchTensorEntry>;
}

/** The storage classes of `torch` and the element type each holds. */
const STORAGE_DTYPES: Record<string, SafetensorsDtype> = {
  FloatStorage: "F32",
  HalfStorage: "F16",
  BFloat16Storage: "BF16",
  DoubleStorage: "F64",
  LongStorage: "I64",
  IntStorage: "I32",
  ShortStorage: "I16",
  CharStorage: "I8",
  ByteStorage: "U8",
  BoolStorage: "BOOL",
};

const ELEMENT_BYTES: Record<SafetensorsDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/** The magic number the pre-1.6 format pickles first (LONG1 0x1950a86a20f9469cfc6c, after PROTO 2). */
const LEGACY_MAGIC = Uint8Array.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]);

/** A storage class named by a `GLOBAL` (a marker: never called). */
class StorageType {
  constructor(readonly dtype: SafetensorsDtype) {}
}

/** A raw storage of the archive. */
interface Storage {
  readonly dtype: SafetensorsDtype;
  readonly key: string;
  readonly numel: number;
  /** The archive entry holding the bytes (read when a tensor is). */
  readonly entry: ZipEntry;
}

/** A tensor as `_rebuild_tensor_v2` describes it: a strided view of a storage. */
class TensorView {
  constructor(
    readonly storage: Storage,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {}
}

function isIntList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((d) => Number.isSafeInteger(d) && d >= 0);
}

/** Materialises a view as a row-major float32 array (strided views are gathered). */
function readView(view: TensorView): Float32Array {
  const { storage, offset, shape, stride } = view;
  const count = shape.reduce((n, d) => n * d, 1);
  const size = ELEMENT_BYTES[storage.dtype];
  if (count === 0) return new Float32Array(0);
  let last = offset;
  for (let i = 0; i < shape.length; i++) last += (shape[i] - 1) * stride[i];
  const values = decodeToFloat32(storage.dtype, storage.entry.read().subarray(offset * size, (last + 1) * size));
  if (last + 1 - offset === count && isRowMajor(shape, stride)) return values;
  const out = new Float32Array(count);
  const index = new Array<number>(shape.length).fill(0);
  let source = 0;
  for (let i = 0; i < count; i++) {
    out[i] = values[source];
    for (let d = shape.length - 1; d >= 0; d--) {
      source += stride[d];
      if (++index[d] < shape[d]) break;
      source -= stride[d] * shape[d];
      index[d] = 0;
    }
  }
  return out;
}

function isRowMajor(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expected) return false;
    expected *= shape[d];
  }
  return true;
}

function isStateDict(value: unknown): value is Map<unknown, unknown> {
  return value instanceof Map && value.size > 0 && [...value.values()].every((v) => v instanceof TensorView);
}

/** The state dict inside what the pickle holds: itself, or under `state_dict` or `model`. */
function findStateDict(root: unknown, source: string): Map<unknown, unknown> {
  if (isStateDict(root)) return root;
  if (root instanceof Map) {
    for (const key of ["state_dict", "model"]) {
      if (isStateDict(root.get(key))) return root.get(key) as Map<unknown, unknown>;
    }
    const keys = [...root.keys()].map((k) => JSON.stringify(k));
    const odd = [...root.entries()].find(([, v]) => !(v instanceof TensorView));
    if (odd && [...root.values()].some((v) => v instanceof TensorView)) {
      throw new Error(`${source}: entry ${JSON.stringify(odd[0])} of the state dict is not a tensor`);
    }
    throw new Error(
      `${source}: no state dict found: the checkpoint is a dict with keys ${keys.slice(0, 10).join(", ")}${keys.length > 10 ? ", …" : ""} ` +
        `and neither it nor its "state_dict" or "model" entry maps names to tensors`,
    );
  }
  throw new Error(`${source}: the checkpoint holds a ${Array.isArray(root) ? "list" : typeof root}, not a state dict (a dict of tensors)`);
}

/** The pickle's allow-list, with storages resolved through `storage`. */
function stateDictGlobals(source: string): Map<string, PickleGlobal> {
  const globals = new Map<string, PickleGlobal>();
  globals.set("collections.OrderedDict", (items?: unknown) => {
    const dict = new Map<unknown, unknown>();
    if (Array.isArray(items)) for (const pair of items) if (Array.isArray(pair) && pair.length === 2) dict.set(pair[0], pair[1]);
    return dict;
  });
  const rebuild = (storage: unknown, offset: unknown, size: unknown, stride: unknown): TensorView => {
    if (!(storage instanceof Object) || !("entry" in storage)) throw new Error(`${source}: _rebuild_tensor_v2 without a storage`);
    const s = storage as Storage;
    if (!Number.isSafeInteger(offset) || (offset as number) < 0 || !isIntList(size) || !isIntList(stride) || size.length !== stride.length) {
      throw new Error(`${source}: malformed tensor (offset ${String(offset)}, size ${JSON.stringify(size)}, stride ${JSON.stringify(stride)})`);
    }
    const count = size.reduce((n, d) => n * d, 1);
    let last = offset as number;
    for (let i = 0; i < size.length; i++) last += (size[i] - 1) * stride[i];
    if (count > 0 && last >= s.numel) {
      throw new Error(`${source}: a tensor of size [${size.join(", ")}] reaches element ${last} of storage ${s.key}, which holds ${s.numel}`);
    }
    return new TensorView(s, offset as number, size, stride);
  };
  globals.set("torch._utils._rebuild_tensor_v2", rebuild);
  globals.set("torch._utils._rebuild_parameter", (data: unknown) => data);
  globals.set("torch._utils._rebuild_parameter_with_state", (data: unknown) => data);
  for (const [name, dtype] of Object.entries(STORAGE_DTYPES)) globals.set(`torch.${name}`, new StorageType(dtype));
  return globals;
}

/** Throws the pre-1.6 format's or a non-zip file's message when `bytes` is not a torch zip archive. */
function checkZipFormat(bytes: Uint8Array, source: string): void {
  if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) return;
  const legacy =
    (bytes.length >= LEGACY_MAGIC.length && LEGACY_MAGIC.every((b, i) => bytes[i] === b)) ||
    (bytes.length > 262 && new TextDecoder("latin1").decode(bytes.subarray(257, 262)) === "ustar");
  if (legacy) {
    throw new Error(
      `${source} is in the legacy PyTorch format (before PyTorch 1.6), which is not supported: ` +
        `re-save it with a recent PyTorch: torch.save(torch.load(path), path, _use_new_zipfile_serialization=True)`,
    );
  }
  throw new Error(`${source}: not a PyTorch checkpoint (expected the zip archive torch.save writes)`);
}

/**
 * Parses the bytes of a PyTorch zip checkpoint. The state dict may be the pickled object itself or
 * its `state_dict` or `model` entry. Errors name `source`.
 */
export function parseTorchCheckpoint(bytes: Buffer, source = "PyTorch checkpoint"): TorchCheckpoint {
  checkZipFormat(bytes, source);
  const entries = readZip(bytes, source);
  const pickles = entries.filter((e) => /^[^/]+\/data\.pkl$/.test(e.name));
  if (pickles.length !== 1) {
    throw new Error(`${source}: a PyTorch checkpoint holds one <archive>/data.pkl; found ${pickles.length} (not a torch.save file?)`);
  }
  const prefix = pickles[0].name.slice(0, -"data.pkl".length);
  const byName = new Map<string, ZipEntry>(entries.map((e) => [e.name, e]));
  const byteorder = byName.get(`${prefix}byteorder`)?.read().toString("latin1").trim();
  if (byteorder !== undefined && byteorder !== "little") throw new Error(`${source}: ${byteorder}-endian checkpoints are not supported`);

  const storages = new Map<string, Storage>();
  const persistentLoad = (pid: unknown): Storage => {
    if (!Array.isArray(pid) || pid[0] !== "storage" || pid.length < 5) {
      throw new Error(`${source}: unknown persistent id ${JSON.stringify(Array.isArray(pid) ? pid[0] : pid)} (not a tensor storage)`);
    }
    const [, type, key, , numel] = pid as [string, unknown, unknown, unknown, unknown];
    if (!(type instanceof StorageType)) throw new Error(`${source}: storage ${String(key)} has no storage type`);
    if (typeof key !== "string" || !Number.isSafeInteger(numel)) throw new Error(`${source}: malformed storage id ${String(key)}`);
    const known = storages.get(key);
    if (known) return known;
    const entry = byName.get(`${prefix}data/${key}`);
    if (!entry) throw new Error(`${source}: storage ${prefix}data/${key} is missing from the archive`);
    const storage: Storage = { dtype: type.dtype, key, numel: numel as number, entry };
    if (entry.size !== storage.numel * ELEMENT_BYTES[storage.dtype]) {
      throw new Error(
        `${source}: storage ${key} holds ${entry.size} bytes, but ${storage.numel} ${storage.dtype} elements need ${storage.numel * ELEMENT_BYTES[storage.dtype]}`,
      );
    }
    storages.set(key, storage);
    return storage;
  };
  const root = unpickle(pickles[0].read(), { globals: stateDictGlobals(source), persistentLoad, source });
  const dict = findStateDict(root, source);
  const views = new Map<string, TensorView>();
  const described = new Map<string, TorchTensorEntry>();
  for (const [key, view] of dict) {
    if (typeof key !== "string") throw new Error(`${source}: state dict key ${String(key)} is not a string`);
    const tensor = view as TensorView;
    views.set(key, tensor);
    described.set(key, { name: key, dtype: tensor.storage.dtype, shape: tensor.shape });
  }
  return {
    entries: described,
    read(name: string): Float32Array {
      const view = views.get(name);
      if (view === undefined) throw new Error(`${source}: no tensor "${name}"`);
      return readView(view);
    },
  };
}

/** Reads and parses a PyTorch checkpoint file; errors name the file. */
export async function readTorchCheckpoint(path: string): Promise<TorchCheckpoint> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new Error(`cannot read ${path}: ${(err as Error).message}`);
  }
  return parseTorchCheckpoint(bytes, path);
}
