"""Kernel latency benchmark (jupyter_client): startup to the first idle status, and the round trip of a
trivial cell (execute_request sent → execute_reply and idle received), median of 30 after warm-up.

Run: /usr/bin/python3 bench/kernel.py   (installs the kernelspec into a temporary prefix first)
"""
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from jupyter_client.manager import KernelManager

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def main():
    prefix = tempfile.mkdtemp(prefix="fsam-bench-")
    try:
        subprocess.run(["node", os.path.join(REPO, "bin", "fsam-lab.js"), "install", "--prefix", prefix, "--name", "fsam-lab-bench"], check=True, stdout=subprocess.DEVNULL)
        os.environ["JUPYTER_PATH"] = os.path.join(prefix, "share", "jupyter")
        os.environ["JUPYTER_DATA_DIR"] = os.path.join(prefix, "data")
        km = KernelManager(kernel_name="fsam-lab-bench")
        t0 = time.perf_counter()
        km.start_kernel()
        kc = km.client()
        kc.start_channels()
        first_idle = None
        while first_idle is None:
            m = kc.get_iopub_msg(timeout=120)
            if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
                first_idle = time.perf_counter() - t0
            if m["msg_type"] == "status" and m["content"]["execution_state"] == "starting":
                kc.kernel_info()  # jupyter_client's wait_for_ready does the same
        kc.wait_for_ready(timeout=120)
        ready = time.perf_counter() - t0
        t = time.perf_counter()
        kc.execute_interactive("0", timeout=300, output_hook=lambda _msg: None)
        first_cell = time.perf_counter() - t
        times = []
        for i in range(35):
            t = time.perf_counter()
            msg_id = kc.execute(f"{i} + 1")
            kc.get_shell_msg(timeout=60)
            while True:
                m = kc.get_iopub_msg(timeout=60)
                if m["parent_header"].get("msg_id") == msg_id and m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
                    break
            if i >= 5:
                times.append((time.perf_counter() - t) * 1000)
        print(f"startup to first idle: {first_idle:.2f} s (kernel_info answered at {ready:.2f} s)")
        print(f"first cell (builds the TypeScript program): {first_cell:.2f} s")
        print(f"trivial cell round trip: median {statistics.median(times):.1f} ms, min {min(times):.1f} ms, max {max(times):.1f} ms over {len(times)}")
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
