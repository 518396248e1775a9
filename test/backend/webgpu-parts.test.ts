// The parts of FSAM Lab's webgpu backend that need no GPU: recognising software adapters, the
// limits requested and shown, and turning WebGPU error events into thrown errors.
import test from "node:test";
import assert from "node:assert/strict";
import { formatWebgpuLimits, requiredLimits, softwareAdapterReason, webgpuLimits, REQUESTED_LIMITS } from "../../lib/backend/webgpu-adapter.ts";
import { WebGPUError, WebgpuErrorLog } from "../../lib/backend/webgpu-errors.ts";

test("software adapters are recognised by fallback flag, CPU type or rasteriser name; GPUs are not", () => {
  const lavapipe = { vendor: "mesa", architecture: "software", device: "llvmpipe-llvm-15", description: "llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)" };
  assert.equal(softwareAdapterReason({}, { ...lavapipe, isFallbackAdapter: true }), "it is a fallback (software) adapter");
  assert.equal(softwareAdapterReason({ isFallbackAdapter: true }, { description: "x" }), "it is a fallback (software) adapter");
  assert.equal(softwareAdapterReason({}, lavapipe), "llvmpipe is a software rasteriser");
  assert.equal(softwareAdapterReason({}, { description: "SwiftShader Device (Subzero)" }), "SwiftShader is a software rasteriser");
  assert.equal(softwareAdapterReason({}, { description: "lavapipe" }), "lavapipe is a software rasteriser");
  assert.equal(softwareAdapterReason({}, { adapterType: "CPU", description: "Some device" }), "its adapter type is CPU");
  assert.equal(softwareAdapterReason({}, { vendor: "x", architecture: "software" }), "its architecture is software");
  for (const gpu of [
    { vendor: "nvidia", architecture: "hopper", description: "NVIDIA H200" },
    { vendor: "amd", description: "AMD Radeon RX 7900 XTX (RADV NAVI31)" },
    { vendor: "intel", architecture: "gen-12lp", description: "Intel(R) UHD Graphics 770", isFallbackAdapter: false },
  ]) {
    assert.equal(softwareAdapterReason({ isFallbackAdapter: false }, gpu), undefined, gpu.description);
  }
  assert.equal(softwareAdapterReason({}, undefined), undefined);
});

test("the device asks for the adapter's own limits, and the banner shows the ones that matter", () => {
  const adapterLimits: Record<string, number> = { maxStorageBuffersPerShaderStage: 16, maxStorageBufferBindingSize: 2 ** 31, maxBufferSize: 2 ** 34, maxComputeWorkgroupStorageSize: 49152, maxVertexBuffers: 8 };
  const asked = requiredLimits({ limits: adapterLimits });
  assert.deepEqual(asked, { maxStorageBuffersPerShaderStage: 16, maxStorageBufferBindingSize: 2 ** 31, maxBufferSize: 2 ** 34, maxComputeWorkgroupStorageSize: 49152 });
  assert.ok(Object.keys(asked).every((k) => (REQUESTED_LIMITS as readonly string[]).includes(k)));
  assert.equal(formatWebgpuLimits(webgpuLimits(adapterLimits)), "16 storage buffers/stage, 2 GiB binding, 16 GiB buffer, 48 KiB workgroup memory");
});

/** A stand-in GPUDevice: an EventTarget with a `lost` promise the test resolves. */
function fakeDevice(): { device: EventTarget & { lost: Promise<{ reason: string; message: string }> }; lose: (m: string) => void } {
  let lose: (m: string) => void = () => undefined;
  const lost = new Promise<{ reason: string; message: string }>((resolve) => {
    lose = (message) => resolve({ reason: "unknown", message });
  });
  return { device: Object.assign(new EventTarget(), { lost }), lose };
}

/** An `uncapturederror` event carrying an error of class `name`. */
function errorEvent(name: string, message: string): Event {
  const ErrorClass = { [name]: class extends Error {} }[name];
  return Object.assign(new Event("uncapturederror"), { error: new ErrorClass(message) });
}

test("WebGPU error events are thrown once, together, naming the op, at the next check", async () => {
  const { device, lose } = fakeDevice();
  const log = new WebgpuErrorLog(device as never);
  assert.doesNotThrow(() => log.throwPending("running Sum"));
  device.dispatchEvent(errorEvent("GPUValidationError", 'The number of storage buffers (41) exceeds the maximum per-stage limit (16).\n - While calling [Device].CreateComputePipeline("AddNPackedProgram")'));
  device.dispatchEvent(errorEvent("GPUOutOfMemoryError", "Out of memory allocating a buffer"));
  assert.equal(log.hasPending, true);
  assert.throws(
    () => log.throwPending("reading a tensor"),
    (error: Error) => {
      assert.ok(error instanceof WebGPUError);
      assert.match(error.message, /^WebGPU reported 2 errors in earlier ops \(found before reading a tensor\); results computed since then are invalid:/);
      assert.match(error.message, /ValidationError: The number of storage buffers \(41\)[^\n]*\n +- While calling \[Device\]\.CreateComputePipeline\("AddNPackedProgram"\)/);
      assert.match(error.message, /OutOfMemoryError: Out of memory allocating a buffer/);
      return true;
    },
  );
  assert.doesNotThrow(() => log.throwPending("the next op"), "each error is thrown once");
  lose("the GPU process crashed");
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(log.deviceLost, true);
  assert.throws(() => log.throwPending("running Add"), /device lost \(unknown\): the GPU process crashed/);
});

test("more than three errors are summarised; a disposed log ignores the device's loss", async () => {
  const { device, lose } = fakeDevice();
  const log = new WebgpuErrorLog(device as never);
  for (let i = 0; i < 5; i++) device.dispatchEvent(errorEvent("GPUValidationError", `error ${i}`));
  assert.throws(() => log.throwPending("x"), (e: Error) => /error 2\n {2}… and 2 more$/.test(e.message) && !/error 3/.test(e.message));
  log.dispose();
  lose("destroyed");
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(log.deviceLost, false);
  assert.doesNotThrow(() => log.throwPending("x"));
});
