import test from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as bySelfReference from "fsam-lab";
import * as byPath from "../lib/index.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

test("the package imports itself by name and by path, and both give the same module", () => {
  assert.equal(bySelfReference.FisherSAM, byPath.FisherSAM);
  for (const name of ["SAM", "FisherSAM", "ESAM", "FisherESAM", "initBackend", "createBertClassifier", "BertTokenizer", "train", "compare", "fisherAtlas", "topHessianEigenvalues", "hessianTrace", "toHTML"]) {
    assert.equal(typeof (bySelfReference as Record<string, unknown>)[name], "function", `fsam-lab exports ${name}`);
  }
});

test("the public API: every fsam.<name> the notebooks use is exported, internals are not", () => {
  const api = bySelfReference as Record<string, unknown>;
  const used = new Set<string>();
  for (const file of readdirSync(`${root}/notebooks`).filter((f) => f.endsWith(".ipynb"))) {
    for (const m of readFileSync(`${root}/notebooks/${file}`, "utf8").matchAll(/\bfsam\.([A-Za-z_]\w*)/g)) used.add(m[1]!);
  }
  assert.ok(used.size >= 40, `found ${used.size} names`);
  for (const name of used) assert.notEqual(api[name], undefined, `notebooks use fsam.${name}`);
  for (const name of ["writeFileAtomic", "setHost", "host", "symmetricEigen", "symmetricTridiagonalEigen", "decodeToFloat32", "philox4x32", "patchWasmMatMul", "resetEngineAfterAbort", "renderProgressHtml", "runTrainingLoop", "hubFileUrl"]) {
    assert.equal(name in api, false, `${name} is internal`);
  }
});

test("the fsam-lab bin lists every command in bin/commands with its summary, and rejects unknown ones with exit 2", () => {
  const pkg = JSON.parse(readFileSync(`${root}/package.json`, "utf8")) as { bin: Record<string, string> };
  const bin = `${root}/${pkg.bin["fsam-lab"]}`;
  const help = spawnSync(process.execPath, [bin, "help"], { encoding: "utf8" });
  assert.equal(help.status, 0, help.stderr);
  const commands = readdirSync(`${root}/bin/commands`).filter((f) => f.endsWith(".ts")).map((f) => f.slice(0, -3));
  assert.ok(commands.length >= 9);
  for (const c of commands) assert.match(help.stdout, new RegExp(`^  ${c} `, "m"), `help lists ${c}`);
  const listed = help.stdout.split("\n").filter((l) => l.startsWith("  "));
  assert.equal(listed.length, commands.length, help.stdout);
  for (const line of listed) assert.match(line, /^ {2}[a-z][a-z0-9-]* +\S.{9,}$/, `a command without a summary: '${line}'`);
  assert.doesNotMatch(help.stdout, /undefined/);
  // A shared helper (the flag parser, once in bin/commands) is no command: neither listed nor run.
  for (const name of ["no-such-command", "parse-flags"]) {
    const bad = spawnSync(process.execPath, [bin, name], { encoding: "utf8" });
    assert.equal(bad.status, 2, `${name}: ${bad.stderr}`);
    assert.match(bad.stderr, new RegExp(`^fsam-lab: unknown command '${name}'\\. Known: compare, `));
  }
});
