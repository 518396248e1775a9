// The optional OpenBLAS binding (lib/backend/blas.ts): sgemm on views with offsets, transposes and
// beta, its banner text, thread-count checks, and FSAM_BLAS=off. Skips where OpenBLAS or koffi is missing.
import test from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { blasUnavailableReason, describeBlas, loadBlas } from "../../lib/backend/blas.ts";

const noBlas = loadBlas() === undefined ? `no OpenBLAS: ${blasUnavailableReason()}` : false;

test("sgemm computes op(a)·op(b) + beta·c in place on views at offsets", { skip: noBlas }, () => {
  const blas = loadBlas()!;
  // a = [[1,2,3],[4,5,6]] stored after one padding element; b = [[1,0],[0,1],[1,1]].
  const heap = new Float32Array([9, 1, 2, 3, 4, 5, 6, 1, 0, 0, 1, 1, 1, 10, 20, 30, 40, 7]);
  const a = heap.subarray(1, 7);
  const b = heap.subarray(7, 13);
  const c = heap.subarray(13, 17);
  blas.sgemm(false, false, 2, 2, 3, a, 3, b, 2, 1, c, 2);
  assert.deepEqual([...c], [10 + 4, 20 + 5, 30 + 10, 40 + 11]);
  assert.equal(heap[17], 7, "nothing written past c");
  // aᵀ·a (3×3) with beta 0, a read transposed.
  const out = new Float32Array(9).fill(NaN);
  blas.sgemm(true, false, 3, 3, 2, a, 3, a, 3, 0, out, 3);
  assert.deepEqual([...out], [17, 22, 27, 22, 29, 36, 27, 36, 45]);
  // a·aᵀ (2×2), b read transposed.
  const gram = new Float32Array(4);
  blas.sgemm(false, true, 2, 2, 3, a, 3, a, 3, 0, gram, 2);
  assert.deepEqual([...gram], [14, 32, 32, 77]);
});

test("thread count can be set and is shown in the description", { skip: noBlas }, () => {
  const blas = loadBlas()!;
  const before = blas.threads();
  try {
    blas.setThreads(1);
    assert.equal(blas.threads(), 1);
    assert.match(describeBlas(blas), /^OpenBLAS \d+\.\d+.*, 1 thread$/);
    assert.throws(() => blas.setThreads(0), /BLAS threads must be a positive integer, got 0/);
  } finally {
    blas.setThreads(before);
  }
});

test("FSAM_BLAS=off disables it, FSAM_BLAS=<missing file> names the file", () => {
  const script = `import { blasUnavailableReason, loadBlas } from "./lib/backend/blas.ts"; console.log(JSON.stringify([loadBlas() === undefined, blasUnavailableReason()]));`;
  const run = (value: string) => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      env: { ...process.env, FSAM_BLAS: value },
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as [boolean, string];
  };
  assert.deepEqual(run("off"), [true, "disabled by FSAM_BLAS"]);
  const [absent, reason] = run("/nonexistent/libopenblas.so");
  assert.equal(absent, true);
  assert.match(reason, noBlas ? /koffi|nonexistent/ : /nonexistent\/libopenblas\.so/);
});
