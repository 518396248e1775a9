/**
 * An optional native BLAS for the wasm backend's matrix products: OpenBLAS (Debian
 * `libopenblas0-pthread`, Homebrew `openblas`), called through the `koffi` FFI package directly on
 * the wasm heap (koffi passes a typed array's memory as the pointer, no copy). OpenBLAS's AVX2 /
 * AVX-512 kernels run BERT-sized single-precision products 2–5× faster than XNNPACK's 128-bit wasm
 * SIMD on one core (bench/wasm-kernels.ts), and use every core.
 *
 * Nothing here is required: without koffi or without the library, {@link loadBlas} reports why and
 * the wasm kernels are used. `FSAM_BLAS=off` disables it; `FSAM_BLAS=/path/libopenblas.so` names the
 * library; OpenBLAS itself reads `OPENBLAS_NUM_THREADS` when it loads ({@link Blas.setThreads} changes
 * it later).
 */
import { createRequire } from "node:module";
import { checkPositiveInt } from "../check.ts";

/** A loaded BLAS: the one routine the matmul kernels need, plus what the banner shows. */
export interface Blas {
  /**
   * Row-major `c = op(a)·op(b) + beta·c` in single precision (`cblas_sgemm` with alpha 1): `op(a)` is
   * m×k, `op(b)` k×n, `c` m×n; `lda`, `ldb`, `ldc` are the stored row lengths. The arrays are read and
   * written in place (views of the wasm heap work: no copy is made).
   */
  sgemm(
    transA: boolean, transB: boolean, m: number, n: number, k: number,
    a: Float32Array, lda: number, b: Float32Array, ldb: number, beta: number, c: Float32Array, ldc: number,
  ): void;
  /** The library's own description, e.g. "OpenBLAS 0.3.21 … Zen". */
  readonly config: string;
  /** The number of threads it uses now. */
  threads(): number;
  /** Sets the number of threads (at least 1). */
  setThreads(count: number): void;
}

/** The part of koffi's API used here. */
interface Koffi {
  load(path: string): { func(signature: string): (...args: unknown[]) => unknown };
}

/** Library names tried, in order, when `FSAM_BLAS` names none. */
const CANDIDATES = ["libopenblas.so.0", "libopenblas.so", "libopenblas.0.dylib", "libopenblas.dylib", "libopenblas.dll"];

const CBLAS_ROW_MAJOR = 101;
const CBLAS_NO_TRANS = 111;
const CBLAS_TRANS = 112;

let loaded: { blas?: Blas; reason?: string } | undefined;
let enabled = true;

/** Loads OpenBLAS through koffi, or explains why not. */
function tryLoad(): { blas?: Blas; reason?: string } {
  const setting = process.env.FSAM_BLAS?.trim();
  if (setting === "off" || setting === "0") return { reason: "disabled by FSAM_BLAS" };
  let koffi: Koffi;
  try {
    koffi = createRequire(import.meta.url)("koffi") as Koffi;
  } catch {
    return { reason: "the koffi package is not installed" };
  }
  const names = setting ? [setting] : CANDIDATES;
  const errors: string[] = [];
  for (const name of names) {
    try {
      const lib = koffi.load(name);
      const sgemm = lib.func(
        "void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha, " +
          "const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc)",
      );
      const config = lib.func("const char *openblas_get_config()")() as string;
      const getThreads = lib.func("int openblas_get_num_threads()");
      const setThreads = lib.func("void openblas_set_num_threads(int)");
      return {
        blas: {
          sgemm: (transA, transB, m, n, k, a, lda, b, ldb, beta, c, ldc) =>
            void sgemm(
              CBLAS_ROW_MAJOR, transA ? CBLAS_TRANS : CBLAS_NO_TRANS, transB ? CBLAS_TRANS : CBLAS_NO_TRANS,
              m, n, k, 1, a, lda, b, ldb, beta, c, ldc,
            ),
          config,
          threads: () => getThreads() as number,
          setThreads: (count) => {
            setThreads(checkPositiveInt("BLAS threads", count));
          },
        },
      };
    } catch (error) {
      errors.push(`${name}: ${(error instanceof Error ? error.message : String(error)).split("\n")[0]}`);
    }
  }
  return { reason: setting ? errors[0] : "no OpenBLAS library found" };
}

/** The loaded BLAS (loading it on first call), or `undefined` when unavailable; see {@link blasUnavailableReason}. */
export function loadBlas(): Blas | undefined {
  loaded ??= tryLoad();
  return loaded.blas;
}

/** Why {@link loadBlas} found no BLAS, or `undefined` when it did. */
export function blasUnavailableReason(): string | undefined {
  loaded ??= tryLoad();
  return loaded.reason;
}

/** The BLAS the wasm matmul kernels use now: loaded and not switched off by {@link setBlasEnabled}. */
export function activeBlas(): Blas | undefined {
  return enabled ? loadBlas() : undefined;
}

/**
 * Switches the wasm matmul kernels between the BLAS (when loaded) and XNNPACK, for benchmarks and
 * tests that compare both. On by default.
 */
export function setBlasEnabled(on: boolean): void {
  enabled = on;
}

/** A short description for the backend banner, e.g. "OpenBLAS 0.3.21 Zen, 2 threads". */
export function describeBlas(blas: Blas): string {
  const words = blas.config.split(/\s+/);
  const arch = words.filter((w) => !/^(NO_|DYNAMIC_ARCH|USE_|MAX_THREADS)/.test(w)).slice(0, 3).join(" ");
  const threads = blas.threads();
  return `${arch}, ${threads} thread${threads === 1 ? "" : "s"}`;
}
