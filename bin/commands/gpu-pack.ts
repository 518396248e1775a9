/**
 * `fsam-lab gpu-pack [--out DIR]` (`npm run gpu:pack`): builds the GPU kit (gpu/README.md), the
 * folder carried to an offline GPU machine that has python3 and a driver but no Node: this Node
 * binary, Dawn's `dawn.node` and one esbuild bundle of gpu/check.ts (tfjs, tfjs-backend-webgpu and
 * the library inlined), all xz-compressed; Debian's `libvulkan1` .deb (the Vulkan loader);
 * this machine's libstdc++ (used there only if the system's is too old for dawn.node); the
 * launcher, the PyTorch script and a manifest with every file's hashes. Compressed blobs whose
 * source did not change are kept from the last pack. Fails when the kit outgrows its size limit.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { writeFileAtomic } from "../../lib/atomic-write.ts";
import { parseCommandFlags } from "../cli-support/parse-flags.ts";

/** One line for `fsam-lab help`. */
export const summary = "build the GPU kit for an offline GPU machine into out/gpu-kit (see gpu/README.md)";

/** Where the kit goes by default, relative to the repository root. */
export const DEFAULT_KIT_DIR = "out/gpu-kit";

/**
 * The most the kit may weigh: the GPU machine takes 64 MiB in all (working tree + carried
 * folders), and the working tree needs a few MiB of that.
 */
export const KIT_SIZE_LIMIT = 56 * 2 ** 20;

const usage = `usage: fsam-lab gpu-pack [--out DIR]

  --out DIR   the kit folder (default ${DEFAULT_KIT_DIR}, ignored by git); run it with: bash DIR/run.sh

Needs xz, apt-get (first pack only: downloads Debian's libvulkan1 .deb) and the optional
dependency 'webgpu'.`;

const root = fileURLToPath(new URL("../../", import.meta.url));

/** One file of the kit in the manifest. */
interface ManifestFile {
  /** Bytes in the kit. */
  bytes: number;
  /** sha256 of the file in the kit. */
  sha256: string;
  /** For xz blobs: sha256 of the content once unpacked (the launcher checks it). */
  unpacked_sha256?: string;
  /** Where it came from. */
  source: string;
}

/** sha256 of a file, hex. */
function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** Runs a command; throws with its stderr when it fails. */
function runTool(cmd: string, args: string[], cwd = root): string {
  const result = spawnSync(cmd, args, { cwd, encoding: "utf8" });
  if (result.error) throw new Error(`${cmd} could not run: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${result.status}): ${result.stderr.trim()}`);
  return result.stdout;
}

/**
 * Writes `name`.xz into the kit from `source`, unless the previous pack's blob came from the same
 * content (same unpacked hash, blob intact).
 */
function xzBlob(kit: string, name: string, source: string, previous: Record<string, ManifestFile>): ManifestFile {
  const blob = join(kit, `${name}.xz`);
  const unpacked = sha256(source);
  const old = previous[`${name}.xz`];
  if (old?.unpacked_sha256 === unpacked && existsSync(blob) && sha256(blob) === old.sha256) {
    console.log(`  ${name}.xz: unchanged`);
    return old;
  }
  const t = Date.now();
  const tmp = `${blob}.tmp`;
  const fd = openSync(tmp, "w");
  try {
    const result = spawnSync("xz", ["-9", "-T0", "-c", source], { stdio: ["ignore", fd, "pipe"] });
    if (result.error) throw new Error(`xz could not run: ${result.error.message}`);
    if (result.status !== 0) throw new Error(`xz failed on ${source}: ${String(result.stderr).trim()}`);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, blob);
  console.log(`  ${name}.xz: ${(statSync(source).size / 2 ** 20).toFixed(1)} MiB → ${(statSync(blob).size / 2 ** 20).toFixed(1)} MiB in ${((Date.now() - t) / 1000).toFixed(0)} s`);
  return { bytes: statSync(blob).size, sha256: sha256(blob), unpacked_sha256: unpacked, source };
}

/** Bundles gpu/check.ts with everything but Dawn's binding (and the unused native backends). */
async function bundle(outfile: string): Promise<void> {
  const esbuild = await import("esbuild");
  await esbuild.build({
    entryPoints: [join(root, "gpu", "check.ts")],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: ["webgpu", "@tensorflow/tfjs-node", "@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-backend-wasm"],
    // tfjs's CommonJS builds call require(); an ES module has none, so give it one.
    banner: { js: 'import { createRequire as __kitCreateRequire } from "node:module"; const require = __kitCreateRequire(import.meta.url);' },
    logLevel: "warning",
  });
}

/** The libvulkan1 .deb in the kit: kept from the last pack, else fetched with `apt-get download`. */
function vulkanDeb(kit: string): string {
  const existing = readdirSync(kit).find((f) => /^libvulkan1_.*\.deb$/.test(f));
  if (existing) {
    console.log(`  ${existing}: kept`);
    return existing;
  }
  const tmp = mkdtempSync(join(kit, ".apt-"));
  try {
    runTool("apt-get", ["download", "libvulkan1"], tmp);
    const deb = readdirSync(tmp).find((f) => /^libvulkan1_.*\.deb$/.test(f));
    if (deb === undefined) throw new Error("apt-get download libvulkan1 left no .deb");
    renameSync(join(tmp, deb), join(kit, deb));
    console.log(`  ${deb}: downloaded`);
    return deb;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The version field of a package's package.json. */
function packageVersion(dir: string): string {
  return (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string }).version;
}

/**
 * Builds the kit into `kit` and returns its manifest.
 *
 * @throws Error when a tool or input is missing, or the kit exceeds {@link KIT_SIZE_LIMIT}.
 */
export async function packGpuKit(kit: string): Promise<Record<string, unknown>> {
  const webgpuDir = join(root, "node_modules", "webgpu");
  const dawn = join(webgpuDir, "dist", "linux-x64", "dawn.node");
  if (!existsSync(dawn)) throw new Error(`${dawn} is missing: install the optional dependency 'webgpu' (npm install)`);
  mkdirSync(join(kit, "webgpu"), { recursive: true });
  let previous: Record<string, ManifestFile> = {};
  try {
    previous = (JSON.parse(readFileSync(join(kit, "manifest.json"), "utf8")) as { files: Record<string, ManifestFile> }).files;
  } catch {
    // first pack
  }
  const files: Record<string, ManifestFile> = {};
  const copy = (from: string, name: string) => {
    copyFileSync(from, join(kit, name));
    files[name] = { bytes: statSync(join(kit, name)).size, sha256: sha256(join(kit, name)), source: from };
  };
  console.log(`packing the GPU kit into ${kit}`);
  const tmp = mkdtempSync(join(kit, ".bundle-"));
  try {
    await bundle(join(tmp, "check.mjs"));
    files["check.mjs.xz"] = xzBlob(kit, "check.mjs", join(tmp, "check.mjs"), previous);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  files["node.xz"] = xzBlob(kit, "node", realpathSync(process.execPath), previous);
  files["dawn.node.xz"] = xzBlob(kit, "dawn.node", dawn, previous);
  const libstdcxx = runTool("ldconfig", ["-p"]).split("\n").find((l) => l.trim().startsWith("libstdc++.so.6 ") && l.includes("x86-64"))?.split("=>")[1]?.trim();
  if (libstdcxx === undefined) throw new Error("ldconfig -p lists no x86-64 libstdc++.so.6");
  files["libstdc++.so.6.xz"] = xzBlob(kit, "libstdc++.so.6", realpathSync(libstdcxx), previous);
  const deb = vulkanDeb(kit);
  files[deb] = { bytes: statSync(join(kit, deb)).size, sha256: sha256(join(kit, deb)), source: "apt-get download libvulkan1" };
  for (const name of ["run.sh", "launch.py", "torch_bench.py", "README.md"]) copy(join(root, "gpu", name), name);
  for (const name of ["package.json", "index.js"]) copy(join(webgpuDir, name), `webgpu/${name}`);
  const stale = readdirSync(kit).filter((f) => !(f in files) && f !== "webgpu" && f !== "manifest.json");
  for (const f of stale) rmSync(join(kit, f), { recursive: true, force: true });

  const total = Object.values(files).reduce((s, f) => s + f.bytes, 0);
  const id = createHash("sha256").update(Object.values(files).map((f) => f.sha256).sort().join("")).digest("hex").slice(0, 12);
  const manifest = {
    id,
    commit: runTool("git", ["describe", "--always", "--dirty"]).trim(),
    built: new Date().toISOString(),
    node_version: process.version,
    webgpu_version: packageVersion(webgpuDir),
    tfjs_version: packageVersion(join(root, "node_modules", "@tensorflow", "tfjs")),
    vulkan_deb: deb,
    total_bytes: total,
    files,
  };
  writeFileAtomic(join(kit, "manifest.json"), `${JSON.stringify(manifest, null, 1)}\n`);
  const mib = (n: number) => (n / 2 ** 20).toFixed(1);
  console.log(`kit ${id}: ${mib(total)} MiB in ${Object.keys(files).length} files (limit ${mib(KIT_SIZE_LIMIT)} MiB)`);
  if (total > KIT_SIZE_LIMIT) throw new Error(`the kit weighs ${mib(total)} MiB, over its limit of ${mib(KIT_SIZE_LIMIT)} MiB`);
  return manifest;
}

/** Parses the flags and packs; returns the exit code. */
export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandFlags("gpu-pack", argv, { out: { type: "string" } }, usage);
  if ("exitCode" in parsed) return parsed.exitCode;
  const kit = resolve(root, parsed.values.out ?? DEFAULT_KIT_DIR);
  try {
    await packGpuKit(kit);
    console.log(`run it on the GPU machine with: bash ${kit.startsWith(root) ? kit.slice(root.length) : kit}/run.sh`);
    return 0;
  } catch (error) {
    console.error(`gpu-pack: ${(error as Error).message}`);
    return 1;
  }
}
