// Runs the kernel's Python suites (jupyter_kernel_test conformance, jupyter_client protocol checks,
// nbconvert on the smoke notebook) with Debian's /usr/bin/python3, so `npm test` covers them.
import test from "node:test";
import assert from "node:assert/strict";
import { skipWithoutTool } from "../required-tools.ts";
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const here = import.meta.dirname;
const python = "/usr/bin/python3";
const probe = spawnSync(python, ["-c", "import jupyter_client, jupyter_kernel_test, pytest, nbformat"], { encoding: "utf8" });
const skip = skipWithoutTool(probe.status === 0 ? false : `${python} lacks jupyter_client / jupyter_kernel_test / pytest / nbformat (${(probe.stderr || String(probe.error)).trim().split("\n").pop()})`);

for (const suite of ["test_kernel_conformance.py", "test_kernel_protocol.py", "test_kernel_shutdown.py", "test_notebook_nbconvert.py"]) {
  test(`pytest ${suite}`, { skip, timeout: 240_000 }, () => {
    const r = spawnSync(python, ["-m", "pytest", "-q", "-p", "no:cacheprovider", join(here, suite)], {
      cwd: here,
      encoding: "utf8",
      env: { ...process.env, FSAM_BACKEND: "cpu", PYDEVD_DISABLE_FILE_VALIDATION: "1" },
    });
    assert.equal(r.status, 0, `pytest ${suite} failed:\n${r.stdout}\n${r.stderr}`);
  });
}
