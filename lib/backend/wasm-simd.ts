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
    w: number, g: number, m: number, v: number, w1: number, m1: number, v1: number,
    beta1: number, oneMinusBeta1: number, beta2: number, oneMinusBeta2: number, c1: number, c2: number,
    epsilon: number, lr: number, decay: number, l2: number, flags: number, n: number,
  ): void;
  /**
   * The dropout multiplier of lib/models/dropout-mask.ts into `out` (n float32): element i is `scale`
   * when hash32(hash32(i ⊕ k1) ⊕ k2) < threshold (unsigned), else 0.
   */
  dropoutMask(out: number, k1: number, k2: number, threshold: number, scale: number, n: number): void;
  /**
   * The sum of squares of `x` (n float32), accumulated in float64 (squares of float32 values are exact
   * in float64): the sum is within a few float64 ulps whatever the order.
   */
  sumSquares(x: number, n: number): number;
  /**
   * SAM's perturbed weights `w1 = w + (g·scale)·mask` (n float32 each; `flags` bit 0: with `mask`,
   * otherwise `w + g·scale`), in the op chain's order (lib/optim/sam.ts).
   */
  perturb(w: number, g: number, mask: number, w1: number, scale: number, flags: number, n: number): void;
  /** GELU (erf form) of `x` into `y` (n float32): y = x·Φ(x), Φ the standard normal CDF. */
  gelu(x: number, y: number, n: number): void;
  /** GELU's backward: dx = dy·(Φ(x) + x·φ(x)), φ the standard normal density (n float32 each). */
  geluGrad(x: number, dy: number, dx: number, n: number): void;
}

/** Operation names of one lane width: `f32x4` on four elements, `f32` on one. */
interface Lanes {
  /** Bytes per step. */
  bytes: number;
  load: string;
  store: string;
  add: string;
  sub: string;
  mul: string;
  div: string;
  sqrt: string;
  abs: string;
  neg: string;
  /** Round to the nearest integer, ties to even. */
  nearest: string;
  /** Comparisons giving a lane mask (vector) or an i32 condition (scalar). */
  lt: string;
  ge: string;
  /** `a` where `cond` holds, `b` elsewhere. */
  select(a: string, b: string, cond: string): string;
  /** 2ⁿ for integral float lanes `n` in [−126, 127]. */
  pow2(n: string): string;
  /** A float constant in every lane. */
  c(value: number): string;
  /** A scalar f32 local widened to the lane type. */
  splat(local: string): string;
  /** Integer operations on 32-bit lanes. */
  xor: string;
  shrU: string;
  imul: string;
  /** A scalar i32 local widened to the lane type. */
  splatI(local: string): string;
  /** The element indices of the step at byte offset `$off`. */
  index: string;
  /** `scale` where the unsigned lane `x` is below `threshold`, 0 elsewhere (scalar locals `$scale`, `$thr`). */
  keepScaled(x: string): string;
}

/** A float32 constant as WebAssembly text (the shortest decimal that reads back as the same float32). */
const f32 = (value: number) => `(f32.const ${Math.fround(value)})`;

const VECTOR: Lanes = {
  bytes: 16, load: "v128.load", store: "v128.store",
  add: "f32x4.add", sub: "f32x4.sub", mul: "f32x4.mul", div: "f32x4.div", sqrt: "f32x4.sqrt",
  abs: "f32x4.abs", neg: "f32x4.neg", nearest: "f32x4.nearest", lt: "f32x4.lt", ge: "f32x4.ge",
  select: (a, b, cond) => `(v128.bitselect ${a} ${b} ${cond})`,
  pow2: (n) => `(i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s ${n}) (i32x4.splat (i32.const 127))) (i32.const 23))`,
  c: (value) => `(f32x4.splat ${f32(value)})`,
  splat: (local) => `(f32x4.splat (local.get ${local}))`,
  xor: "v128.xor", shrU: "i32x4.shr_u", imul: "i32x4.mul",
  splatI: (local) => `(i32x4.splat (local.get ${local}))`,
  index: "(i32x4.add (i32x4.splat (i32.shr_u (local.get $off) (i32.const 2))) (v128.const i32x4 0 1 2 3))",
  keepScaled: (x) => `(v128.and (i32x4.lt_u ${x} (i32x4.splat (local.get $thr))) (f32x4.splat (local.get $scale)))`,
};
const SCALAR: Lanes = {
  bytes: 4, load: "f32.load", store: "f32.store",
  add: "f32.add", sub: "f32.sub", mul: "f32.mul", div: "f32.div", sqrt: "f32.sqrt",
  abs: "f32.abs", neg: "f32.neg", nearest: "f32.nearest", lt: "f32.lt", ge: "f32.ge",
  select: (a, b, cond) => `(select ${a} ${b} ${cond})`,
  pow2: (n) => `(f32.reinterpret_i32 (i32.shl (i32.add (i32.trunc_sat_f32_s ${n}) (i32.const 127)) (i32.const 23)))`,
  c: f32,
  splat: (local) => `(local.get ${local})`,
  xor: "i32.xor", shrU: "i32.shr_u", imul: "i32.mul",
  splatI: (local) => `(local.get ${local})`,
  index: "(i32.shr_u (local.get $off) (i32.const 2))",
  keepScaled: (x) => `(select (local.get $scale) (f32.const 0) (i32.lt_u ${x} (local.get $thr)))`,
};

/** The address of pointer parameter `ptr` at the step's byte offset. */
const at = (ptr: string) => `(i32.add (local.get ${ptr}) (local.get $off))`;

/**
 * The AdamW arithmetic for one step of `L` lanes, in the op chain's order (lib/train/adamw.ts):
 * g ← g + l2·w; m ← m·β1 + g·(1−β1); v ← v·β2 + (g·g)·(1−β2); w ← w·decay − ((m ÷ c1) ÷ (√(v ÷ c2) + ε))·lr.
 */
function adamWBody(L: Lanes): string {
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

/** The dropout multiplier for one step of `L` lanes: keep where hash32(hash32(i ⊕ k1) ⊕ k2) < threshold. */
function dropoutBody(L: Lanes): string {
  const [a, b] = HASH32_MULTIPLIERS;
  return `
    (local.set $m${a} (i32.const ${a | 0}))
    (local.set $m${b} (i32.const ${b | 0}))
    (local.set $x (${L.xor} ${L.index} ${L.splatI("$k1")}))
    ${hash32Body(L)}
    (local.set $x (${L.xor} (local.get $x) ${L.splatI("$k2")}))
    ${hash32Body(L)}
    (${L.store} ${at("$out")} ${L.keepScaled("(local.get $x)")})`;
}

/**
 * erfcx(u) = exp(u²)·erfc(u) ≈ t·P(t) with t = 1/(1 + {@link ERFCX_P}·u), for u ≥ 0: P's coefficients,
 * lowest degree first, from a least-squares fit of erfcx(u)·(1 + 0.4u) as a degree-9 polynomial in t
 * over u ∈ [0, 10], weighted for relative error and reweighted towards minimax (Lawson's iteration;
 * scipy's `erfcx` as the reference): maximum relative error 8·10⁻⁹ in exact arithmetic.
 */
const ERFCX_P = 0.4;
const ERFCX_COEFFICIENTS = [
  0.22570692002773285, 0.2249518781900406, 0.2149200141429901, 0.12967638671398163, 0.27207231521606445,
  -0.2843717336654663, 0.5474337339401245, -0.49880433082580566, 0.19800761342048645, -0.029592832550406456,
];

/**
 * From `$X`: `$E` = exp(−x²/2) and `$H` = ½(1 + erf(x/√2)) = Φ(x), the standard normal CDF, computed
 * without cancellation: ½·erfc(|z|) for z = x/√2 < 0, 1 − ½·erfc(z) otherwise, erfc(u) = erfcx(u)·exp(−u²).
 * exp(v) for v ≤ 0: v = n·ln 2 + r (Cody–Waite: ln 2 in two parts), exp(r) by its degree-7 Taylor
 * polynomial (|r| ≤ ln 2 / 2: truncation 6·10⁻⁹), times 2ⁿ; 0 below −87.33 (float32's smallest normal).
 */
function normalCdfBody(L: Lanes): string {
  const horner = (x: string, coefficients: number[]) =>
    coefficients.slice(0, -1).reduceRight((acc, c) => `(${L.add} (${L.mul} ${acc} ${x}) ${L.c(c)})`, L.c(coefficients[coefficients.length - 1]));
  const taylor = [1, 1, 1 / 2, 1 / 6, 1 / 24, 1 / 120, 1 / 720, 1 / 5040];
  return `
    (local.set $U (${L.abs} (${L.mul} (local.get $X) ${L.c(Math.SQRT1_2)})))
    (local.set $V (${L.neg} (${L.mul} (local.get $U) (local.get $U))))
    (local.set $N (${L.nearest} (${L.mul} (local.get $V) ${L.c(Math.LOG2E)})))
    (local.set $R (${L.sub} (${L.sub} (local.get $V) (${L.mul} (local.get $N) ${L.c(0.693359375)})) (${L.mul} (local.get $N) ${L.c(-2.12194440e-4)})))
    (local.set $E ${L.select(L.c(0), `(${L.mul} ${horner("(local.get $R)", taylor)} ${L.pow2("(local.get $N)")})`, `(${L.lt} (local.get $V) ${L.c(-87.33)})`)})
    (local.set $T (${L.div} ${L.c(1)} (${L.add} ${L.c(1)} (${L.mul} (local.get $U) ${L.c(ERFCX_P)}))))
    (local.set $H (${L.mul} (${L.mul} (${L.mul} (local.get $T) ${horner("(local.get $T)", ERFCX_COEFFICIENTS)}) (local.get $E)) ${L.c(0.5)}))
    (local.set $H ${L.select(`(${L.sub} ${L.c(1)} (local.get $H))`, "(local.get $H)", `(${L.ge} (local.get $X) ${L.c(0)})`)})`;
}

/** SAM's perturbed weights for one step: w + (g·scale)·mask (the mask when `$flags` bit 0 is set). */
function perturbBody(L: Lanes): string {
  return `
    (local.set $E (${L.mul} (${L.load} ${at("$g")}) ${L.splat("$scale")}))
    (if (i32.and (local.get $flags) (i32.const 1))
      (then (local.set $E (${L.mul} (local.get $E) (${L.load} ${at("$mask")})))))
    (${L.store} ${at("$w1")} (${L.add} (${L.load} ${at("$w")}) (local.get $E)))`;
}

/**
 * The exported `sumSquares`: four float32 lanes at a time, each squared and added in float64 (two
 * f64x2 accumulators for the low and high halves), then the last n mod 4 one by one.
 */
const SUM_SQUARES = `
  (func (export "sumSquares") (param $x i32) (param $n i32) (result f64)
    (local $off i32) (local $end i32) (local $v v128) (local $lo v128) (local $hi v128) (local $a v128) (local $b v128) (local $s f64)
    (local.set $end (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2)))
    ${loop(VECTOR, `
      (local.set $v (v128.load ${at("$x")}))
      (local.set $lo (f64x2.promote_low_f32x4 (local.get $v)))
      (local.set $hi (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))
      (local.set $a (f64x2.add (local.get $a) (f64x2.mul (local.get $lo) (local.get $lo))))
      (local.set $b (f64x2.add (local.get $b) (f64x2.mul (local.get $hi) (local.get $hi))))`)}
    (local.set $a (f64x2.add (local.get $a) (local.get $b)))
    (local.set $s (f64.add (f64x2.extract_lane 0 (local.get $a)) (f64x2.extract_lane 1 (local.get $a))))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    ${loop(SCALAR, `
      (local.set $s (f64.add (local.get $s) (f64.mul (f64.promote_f32 (f32.load ${at("$x")})) (f64.promote_f32 (f32.load ${at("$x")})))))`)}
    (local.get $s))`;

/** GELU forward for one step: y = x·Φ(x). */
function geluBody(L: Lanes): string {
  return `
    (local.set $X (${L.load} ${at("$x")}))
    ${normalCdfBody(L)}
    (${L.store} ${at("$y")} (${L.mul} (local.get $X) (local.get $H)))`;
}

/** GELU backward for one step: dx = dy·(Φ(x) + x·φ(x)), φ(x) = exp(−x²/2)/√(2π). */
function geluGradBody(L: Lanes): string {
  return `
    (local.set $X (${L.load} ${at("$x")}))
    ${normalCdfBody(L)}
    (${L.store} ${at("$dx")} (${L.mul} (${L.load} ${at("$dy")})
      (${L.add} (local.get $H) (${L.mul} (local.get $X) (${L.mul} (local.get $E) ${L.c(1 / Math.sqrt(2 * Math.PI))})))))`;
}

/** One exported kernel: element-wise `body` over `n` elements, four at a time, then one at a time. */
interface KernelText {
  /** Export name (a method of {@link SimdKernels}). */
  name: string;
  /** Parameters before `n`, as `[name, type]`. */
  params: [string, "i32" | "f32"][];
  /** Locals of the body, as names, typed by the lane width (`i32` lanes for integer kernels). */
  locals: string[];
  /** Whether the locals hold integers (scalar `i32`) rather than floats (scalar `f32`). */
  integerLocals?: boolean;
  /** Extra scalar i32 locals. */
  scalarLocals?: string[];
  body(L: Lanes): string;
}

const KERNELS: KernelText[] = [
  {
    name: "adamw",
    params: [
      ...["$w", "$g", "$m", "$v", "$w1", "$m1", "$v1"].map((p) => [p, "i32"] as [string, "i32"]),
      ...["$b1", "$nb1", "$b2", "$nb2", "$c1", "$c2", "$eps", "$lr", "$decay", "$l2"].map((p) => [p, "f32"] as [string, "f32"]),
      ["$flags", "i32"],
    ],
    locals: ["$W", "$G", "$M", "$V"],
    body: adamWBody,
  },
  {
    name: "dropoutMask",
    params: [["$out", "i32"], ["$k1", "i32"], ["$k2", "i32"], ["$thr", "i32"], ["$scale", "f32"]],
    locals: ["$x"],
    integerLocals: true,
    scalarLocals: HASH32_MULTIPLIERS.map((m) => `$m${m}`),
    body: dropoutBody,
  },
  {
    name: "perturb",
    params: [["$w", "i32"], ["$g", "i32"], ["$mask", "i32"], ["$w1", "i32"], ["$scale", "f32"], ["$flags", "i32"]],
    locals: ["$E"],
    body: perturbBody,
  },
  {
    name: "gelu",
    params: [["$x", "i32"], ["$y", "i32"]],
    locals: ["$X", "$U", "$V", "$N", "$R", "$E", "$T", "$H"],
    body: geluBody,
  },
  {
    name: "geluGrad",
    params: [["$x", "i32"], ["$dy", "i32"], ["$dx", "i32"]],
    locals: ["$X", "$U", "$V", "$N", "$R", "$E", "$T", "$H"],
    body: geluGradBody,
  },
];

/** A loop over the byte offsets `[$off, $end)` running `body` for `L`'s lanes. */
function loop(L: Lanes, body: string): string {
  return `
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $off) (local.get $end)))
      ${body}
      (local.set $off (i32.add (local.get $off) (i32.const ${L.bytes})))
      (br $next)))`;
}

/** The three functions of a kernel: the vector loop, the scalar loop and the exported entry. */
function kernelText(k: KernelText): string {
  const params = k.params.map(([name, type]) => `(param ${name} ${type})`).join(" ");
  const args = k.params.map(([name]) => `(local.get ${name})`).join(" ");
  const locals = (type: string) =>
    [...k.locals.map((n) => `(local ${n} ${type})`), ...(k.scalarLocals ?? []).map((n) => `(local ${n} i32)`)].join(" ");
  return `
  (func $${k.name}_v ${params} (param $end i32) (local $off i32) ${locals("v128")}
    ${loop(VECTOR, k.body(VECTOR))})
  (func $${k.name}_s ${params} (param $off i32) (param $end i32) ${locals(k.integerLocals ? "i32" : "f32")}
    ${loop(SCALAR, k.body(SCALAR))})
  (func (export "${k.name}") ${params} (param $n i32) (local $vecEnd i32)
    (local.set $vecEnd (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2)))
    (call $${k.name}_v ${args} (local.get $vecEnd))
    (call $${k.name}_s ${args} (local.get $vecEnd) (i32.shl (local.get $n) (i32.const 2))))`;
}

/** The module's text. */
export function simdModuleText(): string {
  return `(module
  (import "env" "memory" (memory 0))${KERNELS.map(kernelText).join("")}${SUM_SQUARES}
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
