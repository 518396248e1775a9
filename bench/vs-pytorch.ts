// FSAM Lab's training steps against PyTorch on the same CPU, in one run: ms per Adam, SAM and FSAM
// step of the BERT classifier (batch 32 × sequence 128, random tokens, training mode) on the wasm
// backend, and ms per Adam and SAM step of shared/bench/torch_bert_step.py (the same HF-shaped
// encoder in plain PyTorch, OMP_NUM_THREADS=1), for bert-tiny and bert-mini. The two sides alternate
// round by round so that load from other processes hits both alike; each side reports its median
// wall time and its median CPU time (process CPU; PyTorch's read through time.process_time), and the
// ratios FSAM Lab / PyTorch, SAM/Adam and FSAM/SAM are printed for both. CPU time is the fairer
// measure on a loaded machine as long as both sides run one thread (the default here).
//
// Run: npx tsx bench/vs-pytorch.ts [--rounds N] [--models bert-tiny,bert-mini] [--blas-threads N]
//        [--no-blas] [--python /usr/bin/python3] [--torch-script PATH] [--no-torch]
// (default 3 rounds of one PyTorch run (10 timed steps per optimizer) and 3 steps per optimizer here;
// --blas-threads sets OpenBLAS's threads when it is used, default 1 to match PyTorch's one thread.)
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import * as tf from "@tensorflow/tfjs";
import { formatBackendInfo, initBackend } from "../lib/backend.ts";
import { blasUnavailableReason, describeBlas, loadBlas, setBlasEnabled } from "../lib/backend/blas.ts";
import { createBertClassifier } from "../lib/models/classifier.ts";
import type { BertPresetName } from "../lib/models/config.ts";
import { FisherSAM } from "../lib/optim/fisher-sam.ts";
import { SAM } from "../lib/optim/sam.ts";
import { AdamW } from "../lib/train/adamw.ts";
import type { EncodedBatch } from "../lib/types.ts";

const BATCH = 32;
const SEQ = 128;
const STEPS_PER_ROUND = 3;
/** The PyTorch script's arguments (layers hidden heads ffn) per preset. */
const TORCH_SHAPES: Partial<Record<BertPresetName, string[]>> = {
  "bert-tiny": ["2", "128", "2", "512"],
  "bert-mini": ["4", "256", "4", "1024"],
};

interface Args {
  rounds: number;
  models: BertPresetName[];
  blasThreads: number;
  blas: boolean;
  python: string;
  script: string;
  torch: boolean;
}

/** Parses the command line (see the header). */
function parseArgs(argv: string[]): Args {
  const args: Args = {
    rounds: 3,
    models: ["bert-tiny", "bert-mini"],
    blasThreads: 1,
    blas: true,
    python: "/usr/bin/python3",
    script: new URL("../../shared/bench/torch_bert_step.py", import.meta.url).pathname,
    torch: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`bench/vs-pytorch.ts: ${argv[i]} needs a value`);
      return argv[++i];
    };
    switch (argv[i]) {
      case "--rounds": args.rounds = Number(value()); break;
      case "--models": args.models = value().split(",") as BertPresetName[]; break;
      case "--blas-threads": args.blasThreads = Number(value()); break;
      case "--no-blas": args.blas = false; break;
      case "--python": args.python = value(); break;
      case "--torch-script": args.script = value(); break;
      case "--no-torch": args.torch = false; break;
      default: throw new Error(`bench/vs-pytorch.ts: unknown argument ${argv[i]}`);
    }
  }
  if (!Number.isInteger(args.rounds) || args.rounds < 1) throw new Error(`--rounds must be an integer >= 1, got ${args.rounds}`);
  for (const m of args.models) {
    if (!(m in TORCH_SHAPES)) throw new Error(`--models: unknown model ${m}; known: ${Object.keys(TORCH_SHAPES).join(", ")}`);
  }
  return args;
}

/** Wall-clock and CPU ms of one measurement. */
interface Timing {
  wall: number;
  cpu: number;
}

/** Wall and process-CPU time of one call of `f`. */
function timeOnce(f: () => void): Timing {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  f();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const medianTiming = (ts: Timing[]): Timing => ({ wall: median(ts.map((t) => t.wall)), cpu: median(ts.map((t) => t.cpu)) });

/**
 * Runs the PyTorch script once with its clock replaced by the process CPU clock (it then prints CPU
 * ms per step) while the wrapper records the wall clock at the same instants; returns both per
 * optimizer ("adam", "sam").
 */
function runTorch(args: Args, shape: string[]): Record<string, Timing> {
  const wrapper = [
    "import builtins, runpy, sys, time",
    "wall = time.time; stamps = []",
    "def clock():\n    stamps.append((wall(), time.process_time()))\n    return stamps[-1][1]",
    "time.time = clock",
    "say = builtins.print",
    "def report(*a, **k):\n    (w0, c0), (w1, c1) = stamps[-2], stamps[-1]\n    say(*a, '| wall/cpu %.6f' % ((w1 - w0) / max(c1 - c0, 1e-9)), **k)",
    "builtins.print = report",
    "sys.argv = sys.argv[1:]",
    "runpy.run_path(sys.argv[0], run_name='__main__')",
  ].join("\n");
  const run = spawnSync(args.python, ["-c", wrapper, args.script, ...shape], {
    env: { ...process.env, OMP_NUM_THREADS: "1", MKL_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "1" },
    encoding: "utf8",
  });
  if (run.status !== 0) throw new Error(`PyTorch script failed (${run.status}): ${run.stderr.trim().split("\n").slice(-1)[0]}`);
  const out: Record<string, Timing> = {};
  for (const line of run.stdout.split("\n")) {
    const m = /(\w+): ([\d.]+) ms\/step.*wall\/cpu ([\d.]+)/.exec(line);
    if (m) out[m[1]] = { cpu: Number(m[2]), wall: Number(m[2]) * Number(m[3]) };
  }
  if (!out.adam || !out.sam) throw new Error(`PyTorch script printed no adam/sam lines:\n${run.stdout}`);
  return out;
}

/** The torch version line, or why PyTorch cannot run. */
function torchVersion(args: Args): string | undefined {
  if (!existsSync(args.script)) return undefined;
  const run = spawnSync(args.python, ["-c", "import torch; print(torch.__version__)"], { encoding: "utf8" });
  return run.status === 0 ? run.stdout.trim() : undefined;
}

/** A random batch with every position real. */
function randomBatch(size: number, vocab: number, seed: number): EncodedBatch {
  return tf.tidy(() => ({
    inputIds: tf.randomUniform([size, SEQ], 0, vocab, "int32", seed) as tf.Tensor2D,
    tokenTypeIds: tf.zeros([size, SEQ], "int32") as tf.Tensor2D,
    attentionMask: tf.ones([size, SEQ], "int32") as tf.Tensor2D,
    labels: tf.randomUniform([size], 0, 2, "int32", seed + 1) as tf.Tensor1D,
  }));
}

/** The step functions of Adam, SAM (ρ 0.05) and FSAM (ρ 0.05, sparsity 0.9, steady state) on `preset`. */
function makeSteps(preset: BertPresetName): { steps: Record<string, () => void>; dispose: () => void } {
  const model = createBertClassifier(preset, { numLabels: 2, seed: 0, scope: `vs-${preset}` });
  const batch = randomBatch(BATCH, model.config.vocab_size, 7);
  const loss = () => model.loss(batch, { training: true });
  const fisherLoss = (i: number) =>
    tf.tidy(() => {
      const one = (t: tf.Tensor) => tf.slice(t, i % BATCH, 1);
      const b: EncodedBatch = {
        inputIds: one(batch.inputIds) as tf.Tensor2D,
        tokenTypeIds: one(batch.tokenTypeIds) as tf.Tensor2D,
        attentionMask: one(batch.attentionMask) as tf.Tensor2D,
        labels: one(batch.labels as tf.Tensor1D) as tf.Tensor1D,
      };
      return model.loss(b, { training: false });
    });
  // The trainer's Adam (lib/train/adamw.ts) with PyTorch's Adam defaults.
  const adam = () => new AdamW({ learningRate: 1e-5, beta2: 0.999, epsilon: 1e-8 });
  const optimizers: Record<string, tf.Optimizer> = {
    adam: adam(),
    sam: new SAM(adam(), { rho: 0.05 }),
    // The first (warm-up) step refreshes the mask; the timed steps are steady-state FSAM steps.
    fsam: new FisherSAM(adam(), { rho: 0.05, sparsity: 0.9, maskInterval: 1_000_000, fisherSamples: 8, fisherLoss }),
  };
  const steps = Object.fromEntries(
    Object.entries(optimizers).map(([name, opt]) => [
      name,
      () => {
        const cost = opt.minimize(loss, true, model.variables) as tf.Scalar;
        cost.dataSync();
        cost.dispose();
      },
    ]),
  );
  const dispose = () => {
    Object.values(optimizers).forEach((o) => o.dispose());
    tf.dispose(Object.values(batch) as tf.Tensor[]);
    model.dispose();
  };
  return { steps, dispose };
}

const fmt = (x: number) => x.toFixed(0).padStart(7);
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`.padStart(7);

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const info = await initBackend({ backend: "wasm" });
  setBlasEnabled(args.blas);
  const blas = args.blas ? loadBlas() : undefined;
  blas?.setThreads(args.blasThreads);
  console.log(formatBackendInfo(info));
  console.log(`matrix products: ${blas ? `OpenBLAS (${describeBlas(blas)})` : `XNNPACK (${args.blas ? blasUnavailableReason() : "--no-blas"})`}`);
  const torch = args.torch ? torchVersion(args) : undefined;
  if (args.torch && !torch) console.log(`PyTorch not run: ${args.python} cannot import torch or ${args.script} is missing`);
  else if (torch) console.log(`PyTorch ${torch}, OMP_NUM_THREADS=1: ${args.script}`);
  console.log(`batch ${BATCH} × seq ${SEQ}; ${args.rounds} rounds, each: PyTorch once (10 steps per optimizer), then ${STEPS_PER_ROUND} steps per optimizer here; medians`);

  for (const preset of args.models) {
    const { steps, dispose } = makeSteps(preset);
    for (const f of Object.values(steps)) { f(); f(); }
    const ours = new Map<string, Timing[]>(Object.keys(steps).map((n) => [n, []]));
    const theirs = new Map<string, Timing[]>([["adam", []], ["sam", []]]);
    for (let r = 0; r < args.rounds; r++) {
      if (torch) for (const [name, t] of Object.entries(runTorch(args, TORCH_SHAPES[preset] as string[]))) theirs.get(name)?.push(t);
      for (let i = 0; i < STEPS_PER_ROUND; i++) for (const [name, f] of Object.entries(steps)) ours.get(name)?.push(timeOnce(f));
    }
    dispose();
    const o = Object.fromEntries([...ours].map(([n, ts]) => [n, medianTiming(ts)]));
    const t = torch ? Object.fromEntries([...theirs].map(([n, ts]) => [n, medianTiming(ts)])) : undefined;
    console.log(`\n${preset}            wall ms  cpu ms | PyTorch wall  cpu | ratio wall   cpu`);
    for (const name of Object.keys(steps)) {
      const ref = t?.[name];
      console.log(
        `  ${name.padEnd(6)} FSAM Lab ${fmt(o[name].wall)} ${fmt(o[name].cpu)} |` +
          (ref ? `       ${fmt(ref.wall)} ${fmt(ref.cpu)} |     ${ratio(o[name].wall, ref.wall)} ${ratio(o[name].cpu, ref.cpu)}` : ""),
      );
    }
    console.log(
      `  SAM/Adam ${ratio(o.sam.wall, o.adam.wall)} wall ${ratio(o.sam.cpu, o.adam.cpu)} cpu (target ≤ 2.1)` +
        (t ? `   PyTorch ${ratio(t.sam.wall, t.adam.wall)} wall ${ratio(t.sam.cpu, t.adam.cpu)} cpu` : ""),
    );
    console.log(`  FSAM/SAM ${ratio(o.fsam.wall, o.sam.wall)} wall ${ratio(o.fsam.cpu, o.sam.cpu)} cpu (target ≤ 1.10)`);
  }
}

await main();
