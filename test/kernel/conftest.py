"""Shared setup for the FSAM Lab kernel's pytest suites.

Installs the kernelspec into a temporary prefix with `fsam-lab install --prefix` (the real installer)
and points Jupyter at it (JUPYTER_PATH), with a temporary data dir so history files stay out of the
user's home. Runs at import time because jupyter_kernel_test starts its kernel in setUpClass.
"""
import atexit
import os
import shutil
import subprocess
import tempfile

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KERNEL_NAME = "fsam-lab-test"

_prefix = tempfile.mkdtemp(prefix="fsam-kernel-prefix-")
_data = tempfile.mkdtemp(prefix="fsam-kernel-data-")
atexit.register(shutil.rmtree, _prefix, True)
atexit.register(shutil.rmtree, _data, True)
subprocess.run(
    ["node", os.path.join(REPO, "bin", "fsam-lab.js"), "install", "--prefix", _prefix, "--name", KERNEL_NAME],
    check=True,
    cwd=REPO,
    stdout=subprocess.DEVNULL,
)
os.environ["JUPYTER_PATH"] = os.path.join(_prefix, "share", "jupyter")
os.environ["JUPYTER_DATA_DIR"] = _data
# Tests run on the CPU backend: fast to start and the same everywhere.
os.environ.setdefault("FSAM_BACKEND", "cpu")
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
