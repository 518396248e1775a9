/**
 * A clear error instead of a crash when a tensor does not fit in the wasm backend's memory.
 *
 * wasm32 memory ends at 4 GiB. tfjs-backend-wasm allocates every tensor with `_malloc(bytes)` and
 * uses the address without checking it: a tensor of 4 GiB or more has its size wrapped modulo 2³²
 * (then "RangeError: Invalid typed array length" and a leaked tensor), one just under 4 GiB wraps
 * inside malloc and gets a block too small ("offset is out of bounds"), and a failed allocation
 * returns address 0, which the kernel then writes over — "memory access out of bounds", "table
 * index is out of bounds", `Aborted()`, and a backend that fails every later operation. The guard
 * checks each allocation instead (the size before it, the address after it) and throws a
 * {@link WasmMemoryError} naming the operation, shape, dtype, bytes needed and the memory limit,
 * before anything is registered: the backend, the other tensors and the variables stay intact.
 */
import * as tf from "@tensorflow/tfjs";

/** The largest wasm memory of the tfjs-backend-wasm build (`getHeapMax()`: 4 GiB − 64 KiB). */
export const WASM_HEAP_MAX = 4294901760;

/** Thrown when a tensor cannot be allocated in the wasm backend's memory. */
export class WasmMemoryError extends Error {
  /** @param op the operation, shape and dtype of the tensor, and the memory figures (bytes). */
  constructor(
    readonly op: string,
    readonly shape: readonly number[],
    readonly dtype: tf.DataType,
    readonly bytes: number,
    readonly heapBytes: number,
  ) {
    super(
      `${op}: a ${dtype} tensor of shape [${shape.join(", ")}] needs ${formatBytes(bytes)}, more than the wasm backend ` +
        `can allocate (its memory is ${formatBytes(heapBytes)} now and cannot exceed ${formatBytes(WASM_HEAP_MAX)}); ` +
        `use smaller shapes (batch size, sequence length) or a GPU backend`,
    );
    this.name = "WasmMemoryError";
  }
}

/** Bytes in GiB/MiB with two decimals, and the exact count. */
function formatBytes(n: number): string {
  const unit = n >= 2 ** 30 ? ["GiB", 2 ** 30] : ["MiB", 2 ** 20];
  return `${(n / (unit[1] as number)).toFixed(2)} ${unit[0]} (${n} bytes)`;
}

/** The parts of tfjs-backend-wasm's `BackendWasm` the guard wraps. */
interface GuardedBackend {
  move(dataId: tf.DataId, values: unknown, shape: number[], dtype: tf.DataType, refCount: number): void;
  wasm: { _malloc(bytes: number): number; _free(address: number): void; HEAPU8: Uint8Array };
  [GUARDED]?: true;
}

const GUARDED = Symbol("fsam-lab wasm memory guard");

/** The operation running now (tfjs names each op's scope `<op>__op`), for the error message. */
function currentOp(): string {
  const scope = (tf.engine() as unknown as { state: { activeScope?: { name?: string } } }).state.activeScope?.name;
  return scope ? scope.replace(/__op$/, "") : "tensor allocation";
}

/**
 * Installs the guard on the registered wasm backend (idempotent).
 *
 * @returns `false` when no wasm backend is registered (nothing to guard).
 */
export function installWasmMemoryGuard(): boolean {
  const backend = tf.findBackend("wasm") as unknown as GuardedBackend | null;
  if (!backend) return false;
  if (backend[GUARDED]) return true;
  const move = backend.move;
  // Emscripten's `_malloc`/`_free` are stubs that replace themselves by the wasm exports on first
  // call (which would drop a wrapper installed before): resolve them first.
  backend.wasm._free(backend.wasm._malloc(8));
  const malloc = backend.wasm._malloc;
  const tooBig = (b: GuardedBackend, shape: number[], dtype: tf.DataType, bytes: number) =>
    new WasmMemoryError(currentOp(), [...shape], dtype, bytes, b.wasm.HEAPU8.length);
  /** The allocation under way (built into an error only when it fails: no cost per tensor). */
  let pending: { shape: number[]; dtype: tf.DataType; bytes: number } | undefined;
  const free = backend.wasm._free;
  backend.wasm._malloc = (bytes: number): number => {
    const at = malloc(bytes) >>> 0;
    // Failed: address 0, or (a size near 4 GiB wrapping inside malloc) a block that ends past the memory.
    if (pending && bytes > 0 && (at === 0 || at + bytes > backend.wasm.HEAPU8.length)) {
      if (at !== 0) free(at);
      throw tooBig(backend, pending.shape, pending.dtype, pending.bytes);
    }
    return at;
  };
  backend.move = function (this: GuardedBackend, dataId, values, shape, dtype, refCount) {
    if (dtype === "string") return move.call(this, dataId, values, shape, dtype, refCount);
    const bytes = shape.reduce((p, d) => p * d, 1) * tf.util.bytesPerElement(dtype);
    if (bytes > WASM_HEAP_MAX) throw tooBig(this, shape, dtype, bytes);
    pending = { shape, dtype, bytes };
    try {
      move.call(this, dataId, values, shape, dtype, refCount);
    } finally {
      pending = undefined;
    }
  };
  backend[GUARDED] = true;
  return true;
}
