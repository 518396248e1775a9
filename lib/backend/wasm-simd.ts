/**
 * Hand-written WebAssembly SIMD kernels that work directly on tfjs-backend-wasm's memory, for passes
 * that tfjs runs as chains of kernels. JavaScript loops lose to those chains (each link is an XNNPACK
 * kernel on 128-bit SIMD; a JS loop over a Float32Array computes in float64 one element at a time),
 * so one fused pass has to be SIMD code too: the module below, written in WebAssembly's text format
 * and compiled at backend start by the `wabt` package (~0.1 s), imports the backend's
 * `WebAssembly.Memory`, so it reads and writes tensors where they are, with no copy.
 *
 * Each kernel's element-wise arithmetic is written once ({@link adamWBody}) and instantiated twice:
 * with `f32x4` operations for four elements at a time and with `f32` ones for the last n mod 4.
 * WebAssembly's `f32`/`f32x4` `add`, `sub`, `mul`, `div` and `sqrt` are IEEE-754 single-precision
 * operations with round-to-nearest, as XNNPACK's kernels are, so a kernel that performs the op chain's
 * operations in its order gives its results bit for bit.
 */
import { createRequire } from "node:module";
import * as tf from "@tensorflow/tfjs";
import { HASH32_MULTIPLIERS } from "../random.ts";

/** The kernels of the module; pointers are byte offsets into the wasm memory, `n` element counts. */
export interface SimdKernels {
  /**
   * One AdamW update (see lib/backend/wasm-adamw.ts for the formula): reads `w`, `g`, `m`, `v` and
   * writes `w1`, `m1`, `v1` (n float32 each; outputs must not overlap inputs). `flags` bit 0: multiply
   * w by `decay`; bit 1: add `l2`·w to the gradient first.
   */
  adamw(
    w: number, g: number, m: number, v: number, w1: number, m1: number, v1: number, n: number,
    beta1: number, oneMinusBeta1: number, beta2: number, oneMinusBeta2: number, c1: number, c2: number,
    epsilon: number, lr: number, decay: number, l2: number, flags: number,
  ): void;
  /**
   * The dropout multiplier of lib/models/dropout-mask.ts into `out` (n float32): element i is `scale`
   * when hash32(hash32(i ⊕ k1) ⊕ k2) < threshold (unsigned), else 0.
   */
  dropoutMask(out: number, n: number, k1: number, k2: number, threshold: number, scale: number): void;
}

/** Operation names of one lane width: `f32x4` on four elements, `f32` on one. */
interface Lanes {
  /** Type of a local holding elements. */
  type: string;
  /** Bytes per step. */
  bytes: number;
  load: string;
  store: string;
  add: string;
  sub: string;
  mul: string;
  div: string;
  sqrt: string;
  /** A scalar f32 local widened to the lane type. */
  splat(local: string): string;
  /** Integer operations on 32-bit lanes. */
  xor: string;
  shrU: string;
  imul: string;
  /** A scalar i32 local widened to the lane type. */
  splatI(local: string): string;
  /** `scale` where the unsigned lane `x` is below `threshold`, 0 elsewhere (scalar locals `$scale`, `$thr`). */
  keepScaled(x: string): string;
}

const VECTOR: Lanes = {
  type: "v128", bytes: 16, load: "v128.load", store: "v128.store",
  add: "f32x4.add", sub: "f32x4.sub", mul: "f32x4.mul", div: "f32x4.div", sqrt: "f32x4.sqrt",
  splat: (local) => `(f32x4.splat (local.get ${local}))`,
  xor: "v128.xor", shrU: "i32x4.shr_u", imul: "i32x4.mul",
  splatI: (local) => `(i32x4.splat (local.get ${local}))`,
  keepScaled: (x) => `(v128.and (i32x4.lt_u ${x} (i32x4.splat (local.get $thr))) (f32x4.splat (local.get $scale)))`,
};
const SCALAR: Lanes = {
  type: "f32", bytes: 4, load: "f32.load", store: "f32.store",
  add: "f32.add", sub: "f32.sub", mul: "f32.mul", div: "f32.div", sqrt: "f32.sqrt",
  splat: (local) => `(local.get ${local})`,
  xor: "i32.xor", shrU: "i32.shr_u", imul: "i32.mul",
  splatI: (local) => `(local.get ${local})`,
  keepScaled: (x) => `(select (local.get $scale) (f32.const 0) (i32.lt_u ${x} (local.get $thr)))`,
};

/**
 * The AdamW arithmetic for one step of `L` lanes at byte offset `$off`, in the op chain's order
 * (lib/train/adamw.ts): g ← g + l2·w; m ← m·β1 + g·(1−β1); v ← v·β2 + (g·g)·(1−β2);
 * w ← w·decay − ((m ÷ c1) ÷ (√(v ÷ c2) + ε))·lr.
 */
function adamWBody(L: Lanes): string {
  const at = (ptr: string) => `(i32.add (local.get ${ptr}) (local.get $off))`;
  const s = L.splat;
  return `
    (local.set $W (${L.load} ${at("$w")}))
    (local.set $G (${L.load} ${at("$g")}))
    (if (i32.and (local.get $flags) (i32.const 2))
      (then (local.set $G (${L.add} (local.get $G) (${L.mul} (local.get $W) ${s("$l2")})))))
    (local.set $M (${L.add} (${L.mul} (${L.load} ${at("$m")}) ${s("$b1")}) (${L.mul} (local.get $G) ${s("$nb1")})))
    (local.set $V (${L.add} (${L.mul} (${L.load} ${at("$v")}) ${s("$b2")})
                            (${L.mul} (${L.mul} (local.get $G) (local.get $G)) ${s("$nb2")})))
    (${L.store} ${at("$m1")} (local.get $M))
    (${L.store} ${at("$v1")} (local.get $V))
    (if (i32.and (local.get $flags) (i32.const 1))
      (then (local.set $W (${L.mul} (local.get $W) ${s("$decay")}))))
    (${L.store} ${at("$w1")}
      (${L.sub} (local.get $W)
        (${L.mul}
          (${L.div} (${L.div} (local.get $M) ${s("$c1")}) (${L.add} (${L.sqrt} (${L.div} (local.get $V) ${s("$c2")})) ${s("$eps")}))
          ${s("$lr")})))`;
}

/** `hash32` of lib/random.ts on the lanes of local `$x`, in place. */
function hash32Body(L: Lanes): string {
  const [a, b] = HASH32_MULTIPLIERS;
  const xorShift = (bits: number) => `(local.set $x (${L.xor} (local.get $x) (${L.shrU} (local.get $x) (i32.const ${bits}))))`;
  const times = (m: number) => `(local.set $x (${L.imul} (local.get $x) ${L.splatI(`$m${m}`)}))`;
  return [xorShift(16), times(a), xorShift(15), times(b), xorShift(16)].join("\n    ");
}

/**
 * The dropout multiplier for one step of `L` lanes whose element indices are in local `$idx`, stored
 * at byte offset `$off` of `$out`: keep where hash32(hash32(i ⊕ k1) ⊕ k2) < threshold.
 */
function dropoutBody(L: Lanes): string {
  const [a, b] = HASH32_MULTIPLIERS;
  return `
    (local.set $m${a} (i32.const ${a | 0}))
    (local.set $m${b} (i32.const ${b | 0}))
    (local.set $x (${L.xor} (local.get $idx) ${L.splatI("$k1")}))
    ${hash32Body(L)}
    (local.set $x (${L.xor} (local.get $x) ${L.splatI("$k2")}))
    ${hash32Body(L)}
    (${L.store} (i32.add (local.get $out) (local.get $off)) ${L.keepScaled("(local.get $x)")})`;
}

/**
 * A loop over elements `[from, to)` (byte offsets in `$off`, `$end`) running `body` for `L`'s lanes.
 * The caller sets `$off` and `$end`.
 */
function loop(L: Lanes, body: string): string {
  return `
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $off) (local.get $end)))
      ${body}
      (local.set $off (i32.add (local.get $off) (i32.const ${L.bytes})))
      (br $next)))`;
}

/** The module's text. */
export function simdModuleText(): string {
  const locals = (type: string, names: string[]) => names.map((n) => `(local ${n} ${type})`).join(" ");
  return `(module
  (import "env" "memory" (memory 0))
  (func $adamw_v (param $w i32) (param $g i32) (param $m i32) (param $v i32) (param $w1 i32) (param $m1 i32) (param $v1 i32)
    (param $end i32) (param $b1 f32) (param $nb1 f32) (param $b2 f32) (param $nb2 f32) (param $c1 f32) (param $c2 f32)
    (param $eps f32) (param $lr f32) (param $decay f32) (param $l2 f32) (param $flags i32)
    (local $off i32) ${locals("v128", ["$W", "$G", "$M", "$V"])}
    ${loop(VECTOR, adamWBody(VECTOR))})
  (func $adamw_s (param $w i32) (param $g i32) (param $m i32) (param $v i32) (param $w1 i32) (param $m1 i32) (param $v1 i32)
    (param $off i32) (param $end i32) (param $b1 f32) (param $nb1 f32) (param $b2 f32) (param $nb2 f32) (param $c1 f32) (param $c2 f32)
    (param $eps f32) (param $lr f32) (param $decay f32) (param $l2 f32) (param $flags i32)
    ${locals("f32", ["$W", "$G", "$M", "$V"])}
    ${loop(SCALAR, adamWBody(SCALAR))})
  (func $dropout_v (param $out i32) (param $end i32) (param $k1 i32) (param $k2 i32) (param $thr i32) (param $scale f32)
    (local $off i32) (local $idx v128) (local $x v128) ${locals("i32", HASH32_MULTIPLIERS.map((m) => `$m${m}`))}
    (local.set $idx (v128.const i32x4 0 1 2 3))
    ${loop(VECTOR, `${dropoutBody(VECTOR)}
      (local.set $idx (i32x4.add (local.get $idx) (i32x4.splat (i32.const 4))))`)})
  (func $dropout_s (param $out i32) (param $off i32) (param $end i32) (param $k1 i32) (param $k2 i32) (param $thr i32) (param $scale f32)
    (local $idx i32) (local $x i32) ${locals("i32", HASH32_MULTIPLIERS.map((m) => `$m${m}`))}
    ${loop(SCALAR, `(local.set $idx (i32.shr_u (local.get $off) (i32.const 2)))
      ${dropoutBody(SCALAR)}`)})
  (func (export "dropoutMask") (param $out i32) (param $n i32) (param $k1 i32) (param $k2 i32) (param $thr i32) (param $scale f32)
    (local $vecEnd i32)
    (local.set $vecEnd (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2)))
    (call $dropout_v (local.get $out) (local.get $vecEnd) (local.get $k1) (local.get $k2) (local.get $thr) (local.get $scale))
    (call $dropout_s (local.get $out) (local.get $vecEnd) (i32.shl (local.get $n) (i32.const 2))
      (local.get $k1) (local.get $k2) (local.get $thr) (local.get $scale)))
  (func (export "adamw") (param $w i32) (param $g i32) (param $m i32) (param $v i32) (param $w1 i32) (param $m1 i32) (param $v1 i32)
    (param $n i32) (param $b1 f32) (param $nb1 f32) (param $b2 f32) (param $nb2 f32) (param $c1 f32) (param $c2 f32)
    (param $eps f32) (param $lr f32) (param $decay f32) (param $l2 f32) (param $flags i32)
    (local $vecEnd i32)
    (local.set $vecEnd (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2)))
    (call $adamw_v (local.get $w) (local.get $g) (local.get $m) (local.get $v) (local.get $w1) (local.get $m1) (local.get $v1)
      (local.get $vecEnd) (local.get $b1) (local.get $nb1) (local.get $b2) (local.get $nb2) (local.get $c1) (local.get $c2)
      (local.get $eps) (local.get $lr) (local.get $decay) (local.get $l2) (local.get $flags))
    (call $adamw_s (local.get $w) (local.get $g) (local.get $m) (local.get $v) (local.get $w1) (local.get $m1) (local.get $v1)
      (local.get $vecEnd) (i32.shl (local.get $n) (i32.const 2)) (local.get $b1) (local.get $nb1) (local.get $b2) (local.get $nb2)
      (local.get $c1) (local.get $c2) (local.get $eps) (local.get $lr) (local.get $decay) (local.get $l2) (local.get $flags)))
)`;
}

/** The part of the `wabt` package used here. */
interface Wabt {
  parseWat(filename: string, text: string, features: Record<string, boolean>): {
    toBinary(options: Record<string, unknown>): { buffer: Uint8Array };
    destroy(): void;
  };
}

let compiled: Promise<WebAssembly.Module> | undefined;

/** Compiles {@link simdModuleText} once per process. */
async function compileModule(): Promise<WebAssembly.Module> {
  const init = createRequire(import.meta.url)("wabt") as () => Promise<Wabt>;
  const wabt = await init();
  const parsed = wabt.parseWat("fsam-simd.wat", simdModuleText(), { simd: true });
  try {
    return await WebAssembly.compile(parsed.toBinary({}).buffer);
  } finally {
    parsed.destroy();
  }
}

/**
 * The kernels bound to `memory` (tfjs-backend-wasm's), compiling the module on first use.
 *
 * @throws Error when the `wabt` package is missing or this engine lacks WebAssembly SIMD.
 */
export async function instantiateSimdKernels(memory: WebAssembly.Memory): Promise<SimdKernels> {
  compiled ??= compileModule();
  const instance = await WebAssembly.instantiate(await compiled, { env: { memory } });
  return instance.exports as unknown as SimdKernels;
}

/**
 * The `WebAssembly.Memory` of the active tfjs wasm backend (Emscripten's exported memory).
 *
 * @throws Error when the active backend is not tfjs-backend-wasm.
 */
export function wasmBackendMemory(): WebAssembly.Memory {
  const memory = (tf.backend() as unknown as { wasm?: { asm?: { memory?: unknown } } }).wasm?.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) throw new Error(`the active tfjs backend (${tf.getBackend()}) has no wasm memory`);
  return memory;
}
