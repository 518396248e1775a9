import test from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { optimizerOptionTable } from "../../lib/optim/option-table.ts";
import { resolveFisherSAMOptions, resolveSAMOptions } from "../../lib/optim/options.ts";
import { splitESAMOptions } from "../../lib/optim/esam-options.ts";
import { optimizerDefaults } from "../../lib/train/optimizers.ts";
import { presetOptions } from "../../lib/train/presets.ts";
import { runFlagSpec, runFlagsHelp, trainOptionsFromFlags } from "../../bin/cli-support/run-flags.ts";

const fisherLoss = () => tf.scalar(0);

test("the option checks, the named optimizers, the fsam-paper preset and the CLI help state the table's defaults", () => {
  const fsam = resolveFisherSAMOptions({ fisherLoss });
  const named = optimizerDefaults("fesam");
  const preset = presetOptions("fsam-paper", "rte", "fsam");
  const { sampling } = splitESAMOptions("ESAM", {});
  for (const key of ["sparsity", "maskInterval", "fisherSamples", "fisherMode"] as const) {
    assert.equal(fsam[key], optimizerOptionTable[key].default, key);
    assert.equal(named[key], optimizerOptionTable[key].default, key);
  }
  assert.equal(fsam.maskableRule, optimizerOptionTable.maskable.default);
  for (const key of ["beta", "gamma", "weightSampling", "seed"] as const) assert.equal(sampling[key], optimizerOptionTable[key].default, key);
  for (const key of ["rho", "sparsity", "maskInterval", "beta1", "beta2", "epsilon"] as const) assert.equal(preset[key], optimizerOptionTable[key].default, key);
  // The SAM class leaves ASAM's η and GSAM's α off; the named asam/gsam take the table's defaults.
  assert.deepEqual([resolveSAMOptions().eta, resolveSAMOptions().gsamAlpha], [0, 0]);
  assert.deepEqual([optimizerDefaults("asam").rho, optimizerDefaults("asam").eta, optimizerDefaults("gsam").gsamAlpha], [0.5, 0.01, 0.1]);
  assert.match(runFlagsHelp, /\n {2}--sparsity S {13}FSAM sparsity \(default 0\.9\)\n/);
  assert.match(runFlagsHelp, /\n {2}--rho R {18}SAM radius \(default 0\.05; 0\.5 for asam\/fasam\)\n/);
  assert.match(runFlagsHelp, /\n {2}--mask-interval T {8}FSAM mask refresh interval \(default 100\)\n/);
  assert.match(runFlagsHelp, /Adam 0\.9\/0\.98, eps 1e-6, L2 weight decay/);
  assert.doesNotMatch(runFlagsHelp, /undefined|NaN/);
});

test("each optimizer flag is parsed as its table entry says", () => {
  for (const flag of ["base", "rho", "eta", "gsam-alpha", "sparsity", "mask-interval", "fisher-samples", "fisher-mode", "beta", "gamma", "weight-sampling", "maskable"]) {
    assert.ok(flag in runFlagSpec, flag);
    assert.match(runFlagsHelp, new RegExp(`\\n  --${flag} [A-Z] +\\S`), flag);
  }
  assert.deepEqual(trainOptionsFromFlags({ "gsam-alpha": "0.2", "mask-interval": "7", maskable: "all", base: "sgd" }), {
    gsamAlpha: 0.2, maskInterval: 7, maskable: "all", base: "sgd",
  });
  assert.throws(() => trainOptionsFromFlags({ "mask-interval": "2.5" }), /--mask-interval: '2\.5' is not an integer/);
  assert.throws(() => trainOptionsFromFlags({ "fisher-samples": "many" }), /--fisher-samples: 'many' is not a number/);
  assert.throws(() => trainOptionsFromFlags({ maskable: "none" }), /--maskable: 'none' is not one of authors, all/);
  assert.throws(() => trainOptionsFromFlags({ "fisher-mode": "exact" }), /--fisher-mode: 'exact' is not one of per-sample, batch/);
  assert.throws(() => trainOptionsFromFlags({ base: "lion" }), /--base: 'lion' is not one of adam, adamw, sgd/);
});
