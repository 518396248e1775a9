/**
 * The weight files of a Hugging Face model folder and how to open them: `model.safetensors`, a
 * sharded `model.safetensors.index.json`, `pytorch_model.bin` (PyTorch's zip format) or a sharded
 * `pytorch_model.bin.index.json`, in that order of preference (the hub's own). Every kind opens as
 * one `TensorSource`.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { readSafetensorsFile } from "./safetensors.ts";
import type { TensorInfo, TensorSource } from "./tensor-source.ts";
import { readTorchCheckpoint } from "./torch-checkpoint.ts";

/** The weight files a model folder may hold, preferred first. */
export const WEIGHT_FILES = [
  "model.safetensors",
  "model.safetensors.index.json",
  "pytorch_model.bin",
  "pytorch_model.bin.index.json",
] as const;

/** True for the name of a sharded checkpoint's index. */
export function isShardIndex(file: string): boolean {
  return file.endsWith(".index.json");
}

/** The shard files an index (`{"weight_map": {tensor: file}}`) names, each once, in order. */
export function shardFiles(index: unknown, source: string): string[] {
  const map = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== "object" || map === null || Array.isArray(map)) {
    throw new Error(`${source}: a shard index needs a "weight_map" object of tensor name → file`);
  }
  const files = [...new Set(Object.values(map))];
  for (const file of files) {
    if (typeof file !== "string" || !/^[\w.-]+$/.test(file) || file === "." || file === "..") {
      throw new Error(`${source}: shard file ${JSON.stringify(file)} is not a plain file name`);
    }
  }
  if (files.length === 0) throw new Error(`${source}: the weight_map is empty`);
  return files as string[];
}

/** Parses a shard index file. */
export async function readShardIndex(path: string): Promise<string[]> {
  let index: unknown;
  try {
    index = JSON.parse(await readFile(path, "utf8"));
  } catch (err) {
    throw new Error(`cannot read shard index ${path}: ${(err as Error).message}`);
  }
  return shardFiles(index, path);
}

function openSingle(path: string): Promise<TensorSource> {
  return path.endsWith(".safetensors") ? readSafetensorsFile(path) : readTorchCheckpoint(path);
}

/** Opens the shards an index lists as one source; a tensor in two shards is an error. */
async function openSharded(dir: string, indexFile: string): Promise<TensorSource> {
  const owner = new Map<string, TensorSource>();
  const entries = new Map<string, TensorInfo>();
  for (const file of await readShardIndex(join(dir, indexFile))) {
    const path = join(dir, file);
    if (!existsSync(path)) throw new Error(`${join(dir, indexFile)} lists ${file}, which is missing from ${dir}`);
    const shard = await openSingle(path);
    for (const [name, info] of shard.entries) {
      if (owner.has(name)) throw new Error(`${dir}: tensor "${name}" is in two shards`);
      owner.set(name, shard);
      entries.set(name, info);
    }
  }
  return {
    entries,
    read(name: string): Float32Array {
      const shard = owner.get(name);
      if (shard === undefined) throw new Error(`${dir}: no tensor "${name}"`);
      return shard.read(name);
    },
  };
}

/** The first of `files` (default {@link WEIGHT_FILES}) present in `dir`, or undefined. */
export function findWeightFile(dir: string, files: readonly string[] = WEIGHT_FILES): string | undefined {
  return files.find((file) => existsSync(join(dir, file)));
}

/**
 * Opens the weights of a model folder: the first of `files` (default {@link WEIGHT_FILES}) present.
 * Errors name the folder and what it holds instead (e.g. TensorFlow's `tf_model.h5`).
 */
export async function readModelWeights(dir: string, files: readonly string[] = WEIGHT_FILES): Promise<TensorSource> {
  const file = findWeightFile(dir, files);
  if (file === undefined) {
    const other = ["tf_model.h5", "flax_model.msgpack", "model.ckpt.index"].filter((f) => existsSync(join(dir, f)));
    throw new Error(
      `${dir} has no weights this lab reads (${files.join(", ")})${other.length ? `; found ${other.join(", ")}` : ""}`,
    );
  }
  return isShardIndex(file) ? openSharded(dir, file) : openSingle(join(dir, file));
}

/**
 * Downloads the weights of a model with `fetch` (which resolves to undefined when the file does not
 * exist): the first of {@link WEIGHT_FILES} the repository has, and the shards of an index.
 * Resolves to the fetched files, index first.
 */
export async function fetchModelWeights<T extends { path: string }>(
  fetch: (file: string) => Promise<T | undefined>,
  label: string,
): Promise<T[]> {
  for (const file of WEIGHT_FILES) {
    const got = await fetch(file);
    if (got === undefined) continue;
    if (!isShardIndex(file)) return [got];
    const fetched = [got];
    for (const shard of await readShardIndex(got.path)) {
      const part = await fetch(shard);
      if (part === undefined) throw new Error(`${label}: ${file} lists ${shard}, which the repository does not have`);
      fetched.push(part);
    }
    return fetched;
  }
  throw new Error(`${label} has none of ${WEIGHT_FILES.join(", ")}: is it a model in Hugging Face format?`);
}
