"""Shutdown and restart leave no native crash behind: the kernel process exits with code 0 and its
stderr has no "terminate called" / "Napi::Error" (what zeromq prints when a thread holding sockets is
torn down), after a shutdown_request, after a restart, after SIGTERM, and after SIGTERM arriving while
a shutdown_request is being handled."""
import os
import queue
import signal
import tempfile
import time

import pytest
from jupyter_client.manager import KernelManager

from conftest import KERNEL_NAME

TIMEOUT = 120
NATIVE_CRASH_MARKERS = ("terminate called", "Napi::Error", "Aborted", "core dumped")


class LoggedKernel:
    """A kernel whose stderr goes to a file, with its process kept for the exit code."""

    def __init__(self, backend="cpu"):
        self.log = tempfile.NamedTemporaryFile(prefix="fsam-kernel-stderr-", suffix=".log", delete=False)
        self.km = KernelManager(kernel_name=KERNEL_NAME)
        self.km.start_kernel(stderr=self.log, env={**os.environ, "FSAM_BACKEND": backend})
        self.proc = self.km.provisioner.process
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=TIMEOUT)

    def value(self, code):
        results = []
        reply = self.kc.execute_interactive(
            code,
            timeout=TIMEOUT,
            output_hook=lambda m: results.append(m["content"]["data"]["text/plain"]) if m["msg_type"] == "execute_result" else None,
        )
        assert reply["content"]["status"] == "ok", reply["content"]
        return results[0] if results else None

    def errors_of(self, code, seconds=2.0):
        """Runs a cell and collects the error outputs sent for it over `seconds` (late ones included)."""
        msg_id = self.kc.execute(code)
        errors = []
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                m = self.kc.get_iopub_msg(timeout=0.1)
            except queue.Empty:
                continue
            if m["parent_header"].get("msg_id") == msg_id and m["msg_type"] == "error":
                errors.append(m["content"]["evalue"])
        return errors

    def stderr(self):
        with open(self.log.name, encoding="utf8", errors="replace") as f:
            return f.read()

    def wait_exit(self, proc):
        deadline = time.time() + 30
        while proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        return proc.poll()

    def assert_clean_exit(self, proc):
        code = self.wait_exit(proc)
        text = self.stderr()
        for marker in NATIVE_CRASH_MARKERS:
            assert marker not in text, f"kernel stderr has {marker!r}:\n{text[-2000:]}"
        assert code == 0, f"kernel exit code {code}, stderr:\n{text[-2000:]}"

    def close(self):
        self.kc.stop_channels()
        if self.km.has_kernel:
            self.km.shutdown_kernel(now=True)
        os.unlink(self.log.name)


@pytest.fixture
def logged():
    k = LoggedKernel()
    yield k
    k.close()


def test_shutdown_request_then_restart_exit_cleanly(logged):
    assert logged.value("const data = 2; data * 21") == "42"
    assert logged.value("({ data })") == "{ data: 2 }"
    old = logged.proc
    logged.km.restart_kernel(now=False)
    logged.assert_clean_exit(old)
    logged.proc = logged.km.provisioner.process
    assert logged.proc.pid != old.pid
    logged.kc.wait_for_ready(timeout=TIMEOUT)
    assert logged.value("typeof (globalThis as any).data") == "'undefined'"
    assert logged.value("1 + 1") == "2"
    proc = logged.proc
    logged.km.shutdown_kernel(now=False)
    logged.assert_clean_exit(proc)


def test_sigterm_exits_cleanly(logged):
    assert logged.value("3 * 3") == "9"
    logged.proc.send_signal(signal.SIGTERM)
    logged.assert_clean_exit(logged.proc)


def test_sigterm_during_a_shutdown_request_exits_cleanly(logged):
    assert logged.value("4 * 4") == "16"
    logged.kc.shutdown()
    # SIGTERMs keep landing while the shutdown_request's close waits for the control thread: every
    # later close must wait for the same thread exit instead of exiting the process at once.
    deadline = time.time() + 30
    while logged.proc.poll() is None and time.time() < deadline:
        try:
            logged.proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            break
        time.sleep(0.005)
    logged.assert_clean_exit(logged.proc)


def test_unhandled_rejections_with_the_wasm_backend_keep_the_kernel_alive():
    # tfjs-backend-wasm's Emscripten glue adds uncaughtException/unhandledRejection listeners that
    # rethrow; the first unhandled rejection in a cell used to kill (and abort) the kernel.
    k = LoggedKernel(backend="wasm")
    try:
        assert k.value("tf.getBackend()") == "'wasm'"
        assert k.errors_of("Promise.reject(new Error('boom')); 1") == ["boom"]
        assert k.errors_of("setTimeout(() => { throw new Error('from a timer'); }, 10); 2") == ["from a timer"]
        assert k.proc.poll() is None, f"kernel died:\n{k.stderr()[-2000:]}"
        assert k.value("6 * 7") == "42"
        proc = k.proc
        k.km.shutdown_kernel(now=False)
        k.assert_clean_exit(proc)
    finally:
        k.close()
