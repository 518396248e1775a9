/**
 * Shared by the webgpu tests: whether Dawn finds any Vulkan adapter here (lavapipe counts), and the
 * skip reason when it does not. Under `.ci/run` (`FSAM_LAB_CI=1`, which installs lavapipe) a missing
 * adapter fails instead of skipping.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { skipWithoutTool } from "../required-tools.ts";

/** The adapter's description, asked in a child process (Dawn's Vulkan loader prints warnings and keeps threads). */
function adapterDescription(): string | undefined {
  const code = `
    const dawn = await import("webgpu");
    const a = await Promise.race([dawn.create([]).requestAdapter(), new Promise((r) => setTimeout(r, 10000, null))]);
    console.log("ADAPTER" + JSON.stringify(a ? a.info.description || a.info.device || "unnamed adapter" : null));
    process.exit(0);`;
  const child = spawnSync(process.execPath, ["--input-type=module", "-e", code], {
    cwd: fileURLToPath(new URL("../../", import.meta.url)),
    encoding: "utf8",
    timeout: 30000,
  });
  const line = (child.stdout ?? "").split("\n").find((l) => l.startsWith("ADAPTER"));
  return line ? (JSON.parse(line.slice("ADAPTER".length)) ?? undefined) : undefined;
}

/** The WebGPU adapter Dawn finds here, e.g. "llvmpipe: Mesa 25.0.7 …", or undefined. */
export const webgpuAdapter = adapterDescription();

/** The `skip` option of webgpu tests: false with an adapter, else the reason (throws under FSAM_LAB_CI=1). */
export const skipWithoutWebgpu = skipWithoutTool(
  webgpuAdapter === undefined &&
    "no WebGPU adapter (Dawn found no Vulkan device; install Mesa's software Vulkan: .ci/install-vulkan.sh installs mesa-vulkan-drivers from backports and libvulkan1)",
);
