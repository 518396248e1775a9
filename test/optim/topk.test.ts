import test from "node:test";
import assert from "node:assert/strict";
import { keepCount, kthLargest, topKMask } from "../../lib/optim/topk.ts";

import { mulberry32 as rng } from "../../lib/random.ts";

test("keepCount is floor(fraction·n) without float noise", () => {
  assert.equal(keepCount(1 - 0.9, 10), 1);
  assert.equal(keepCount(1 - 0.9, 100), 10);
  assert.equal(keepCount(0.25, 10), 2);
  assert.equal(keepCount(0.999, 10), 9);
  assert.equal(keepCount(0, 7), 0);
  assert.equal(keepCount(1, 7), 7);
  assert.throws(() => keepCount(1.5, 7), /keepFraction.*1\.5/);
});

test("topKMask keeps exactly k entries, the largest ones, across arrays", () => {
  const rand = rng(1);
  // Scores with many ties (values on a coarse grid) and a negative value, spread over 3 arrays.
  const scores = new Map<string, Float32Array>([
    ["a", Float32Array.from({ length: 37 }, () => Math.floor(rand() * 10) / 4)],
    ["b", Float32Array.from({ length: 101 }, () => Math.floor(rand() * 10) / 4)],
    ["c", Float32Array.from([-1, 0, 2.25, 0.5])],
  ]);
  const all = [...scores.values()].flatMap((a) => [...a]);
  const n = all.length;
  const sorted = [...all].sort((x, y) => y - x);
  for (const fraction of [0, 0.01, 0.1, 0.33, 0.5, 0.9, 1]) {
    const k = Math.floor(fraction * n + 1e-9);
    const { masks, threshold, kept } = topKMask(scores, fraction);
    assert.equal(kept, k);
    let count = 0;
    let minKept = Infinity;
    let maxDropped = -Infinity;
    for (const [name, mask] of masks) {
      const s = scores.get(name) as Float32Array;
      assert.equal(mask.length, s.length);
      mask.forEach((m, i) => {
        count += m;
        if (m) minKept = Math.min(minKept, s[i]);
        else maxDropped = Math.max(maxDropped, s[i]);
      });
    }
    assert.equal(count, k, `fraction ${fraction}`);
    assert.ok(minKept >= maxDropped, `kept ${minKept} < dropped ${maxDropped}`);
    assert.equal(threshold, k === 0 ? Infinity : sorted[k - 1]);
    if (k > 0) assert.equal(minKept, sorted[k - 1]);
  }
});

test("kthLargest matches a sort, NaN ranks last", () => {
  const rand = rng(2);
  const a = Float32Array.from({ length: 999 }, () => rand() * 2 - 1);
  const sorted = [...a].sort((x, y) => y - x);
  for (const k of [1, 2, 500, 998, 999]) assert.equal(kthLargest([a], k), sorted[k - 1]);
  const withNaN = Float32Array.from([3, NaN, 1, 2]);
  assert.equal(kthLargest([withNaN], 3), 1);
  assert.ok(Number.isNaN(kthLargest([withNaN], 4)));
  assert.throws(() => kthLargest([withNaN], 5), /k must be an integer in \[1, 4\], got 5/);
});

test("topKMask on 10M scores is O(n) fast and exact", () => {
  const rand = rng(3);
  const n = 10_000_000;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rand();
  const scores = new Map([["w", a.subarray(0, 6_000_000)], ["v", a.subarray(6_000_000)]]);
  const start = performance.now();
  const { masks, threshold, kept } = topKMask(scores, 0.1);
  const ms = performance.now() - start;
  console.log(`topKMask on 10M float32 scores: ${ms.toFixed(0)} ms`);
  assert.equal(kept, 1_000_000);
  let count = 0;
  let above = 0;
  let atOrAbove = 0;
  for (const [name, mask] of masks) {
    const s = scores.get(name) as Float32Array;
    for (let i = 0; i < s.length; i++) {
      count += mask[i];
      if (s[i] > threshold) {
        above++;
        assert.equal(mask[i], 1);
      } else if (s[i] < threshold) assert.equal(mask[i], 0);
      if (s[i] >= threshold) atOrAbove++;
    }
  }
  assert.equal(count, 1_000_000);
  assert.ok(above <= 1_000_000 && atOrAbove >= 1_000_000);
});
