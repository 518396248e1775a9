"""`jupyter nbconvert --execute --to notebook` runs notebooks/00-kernel-smoke.ipynb on the installed
kernel; the saved notebook holds an execute_result and a Plotly mimebundle."""
import os
import subprocess
import tempfile

import nbformat

from conftest import KERNEL_NAME, REPO


def test_nbconvert_executes_the_smoke_notebook():
    out_dir = tempfile.mkdtemp(prefix="fsam-nbconvert-")
    src = os.path.join(REPO, "notebooks", "00-kernel-smoke.ipynb")
    subprocess.run(
        [
            "/usr/bin/jupyter", "nbconvert", "--execute", "--to", "notebook",
            f"--ExecutePreprocessor.kernel_name={KERNEL_NAME}",
            "--ExecutePreprocessor.timeout=180",
            "--ExecutePreprocessor.startup_timeout=180",
            "--output-dir", out_dir, src,
        ],
        check=True,
        cwd=os.path.dirname(src),
        capture_output=True,
    )
    nb = nbformat.read(os.path.join(out_dir, "00-kernel-smoke.ipynb"), as_version=4)
    outs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    results = [o for o in outs if o.output_type == "execute_result"]
    assert any(o.data.get("text/plain") == "6" for o in results), outs
    assert any("application/vnd.plotly.v1+json" in o.data for o in results)
    streams = "".join(o.text for o in outs if o.output_type == "stream")
    assert "bert.pooler.dense.weight" in streams
    assert not [o for o in outs if o.output_type == "error"]
