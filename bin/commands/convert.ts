/**
 * `fsam-lab convert <dir> [--dtype F32|F16|BF16] [--force]`: writes the weights of a model folder
 * (`pytorch_model.bin`, sharded checkpoints too) as one `model.safetensors` beside them, atomically.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseCommandFlags } from "../cli-support/parse-flags.ts";
import { type SafetensorsTensor, type SafetensorsWriteDtype, writeSafetensorsFile } from "../../lib/models/safetensors.ts";
import { WEIGHT_FILES, findWeightFile, readModelWeights } from "../../lib/models/weight-files.ts";

/** One line for `fsam-lab help`. */
export const summary = "write a model folder's PyTorch weights (pytorch_model.bin, sharded too) as model.safetensors";

const WRITE_DTYPES: readonly SafetensorsWriteDtype[] = ["F32", "F16", "BF16"];
const FLOAT_DTYPES = new Set(["F64", "F32", "F16", "BF16"]);

const usage = `usage: fsam-lab convert <dir> [--dtype F32|F16|BF16] [--force]

  <dir>        a model folder holding pytorch_model.bin, pytorch_model.bin.index.json and its
               shards, or model.safetensors.index.json and its shards
  --dtype T    element type to store (default: the checkpoint's when all its float tensors share
               F16 or BF16, else F32; both round-trip exactly)
  --force      overwrite an existing model.safetensors

Writes <dir>/model.safetensors (integer and bool buffers such as position_ids are left out) and
prints its path.`;

/** The stored type: the one asked for, else the checkpoint's common half type, else F32. */
function chooseDtype(asked: string | undefined, dtypes: Set<string>): SafetensorsWriteDtype {
  if (asked !== undefined) {
    if (!(WRITE_DTYPES as readonly string[]).includes(asked)) throw new Error(`--dtype must be one of ${WRITE_DTYPES.join(", ")}, got ${asked}`);
    return asked as SafetensorsWriteDtype;
  }
  const only = dtypes.size === 1 ? [...dtypes][0] : undefined;
  return only === "F16" || only === "BF16" ? only : "F32";
}

/** Runs the command; resolves to the exit code. */
export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandFlags("convert", argv, { dtype: { type: "string" }, force: { type: "boolean" } } as const, usage, true);
  if ("exitCode" in parsed) return parsed.exitCode;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) {
    console.error(`convert: expected one model folder, got ${positionals.length}\n${usage}`);
    return 2;
  }
  const dir = positionals[0];
  const target = join(dir, "model.safetensors");
  const sources = WEIGHT_FILES.filter((f) => f !== "model.safetensors");
  try {
    if (existsSync(target) && !values.force) {
      throw new Error(`${target} already exists (use --force to overwrite it)`);
    }
    const from = findWeightFile(dir, sources);
    const weights = await readModelWeights(dir, sources);
    const tensors: SafetensorsTensor[] = [];
    const floatTypes = new Set<string>();
    for (const [name, entry] of weights.entries) {
      if (!FLOAT_DTYPES.has(entry.dtype)) {
        console.error(`convert: left out ${name} (${entry.dtype}): model.safetensors holds float tensors only`);
        continue;
      }
      floatTypes.add(entry.dtype);
      tensors.push({ name, shape: entry.shape, data: weights.read(name) });
    }
    const dtype = chooseDtype(values.dtype, floatTypes);
    await writeSafetensorsFile(target, tensors, { dtype, metadata: { format: "pt" } });
    console.error(`convert: wrote ${tensors.length} tensors from ${from} as ${dtype}`);
    console.log(target);
    return 0;
  } catch (err) {
    console.error(`convert: ${(err as Error).message}`);
    return 1;
  }
}
