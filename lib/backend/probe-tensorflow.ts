/**
 * Probe for the native `tensorflow` backend (libtensorflow through `@tensorflow/tfjs-node-gpu`, then
 * `@tensorflow/tfjs-node`; both are optional dependencies, so either may be absent).
 *
 * A package is only imported when its package.json really names it: in this project
 * `@tensorflow/tfjs-node` may be an npm alias of plain `@tensorflow/tfjs` (danfojs-node's dependency
 * is overridden that way), which has no native binding and would only load a second copy of tfjs.
 * After the import the probe still checks that a `tensorflow` backend got registered.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import * as tf from "@tensorflow/tfjs";
import { firstLine, type ProbeResult } from "./probe.ts";

const require = createRequire(import.meta.url);

/** The packages that provide the `tensorflow` backend, fastest first, with the device each drives. */
const PACKAGES = [
  { name: "@tensorflow/tfjs-node-gpu", device: "GPU (CUDA, libtensorflow)" },
  { name: "@tensorflow/tfjs-node", device: "CPU (libtensorflow)" },
] as const;

/**
 * The `name` field of an installed package's package.json, `undefined` when the package is not
 * installed, or the requested name when its package.json cannot be read through the exports map.
 */
function installedName(pkg: string): string | undefined {
  let path: string;
  try {
    path = require.resolve(`${pkg}/package.json`);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === "ERR_PACKAGE_PATH_NOT_EXPORTED" ? pkg : undefined;
  }
  return (JSON.parse(readFileSync(path, "utf8")) as { name?: string }).name ?? pkg;
}

/**
 * Activates the `tensorflow` backend from the first package that provides one.
 *
 * @throws Error listing, per package, why it could not be used.
 */
export async function probeTensorflow(): Promise<ProbeResult> {
  const reasons: string[] = [];
  for (const { name, device } of PACKAGES) {
    const installed = installedName(name);
    if (installed === undefined) {
      reasons.push(`${name} not installed`);
      continue;
    }
    if (installed !== name) {
      reasons.push(`${name} is an alias of ${installed}, no native binding`);
      continue;
    }
    try {
      await import(name);
    } catch (error) {
      reasons.push(`${name} failed to load (${firstLine(error)})`);
      continue;
    }
    if (tf.findBackendFactory("tensorflow") == null) {
      reasons.push(`${name} loaded but registered no "tensorflow" backend`);
      continue;
    }
    if (!(await tf.setBackend("tensorflow"))) {
      reasons.push(`${name}: tf.setBackend("tensorflow") failed`);
      continue;
    }
    return { device };
  }
  throw new Error(reasons.join("; "));
}
