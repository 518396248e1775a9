#!/usr/bin/env python3
"""FSAM Lab GPU kit launcher: the one program run on the GPU machine (through run.sh).

Needs only python3's standard library. It unpacks the kit into /tmp (Node, Dawn's dawn.node, the
check bundle; the Vulkan loader out of Debian's libvulkan1 .deb), prints what it finds of the
machine's Vulkan driver (ICD files, NVIDIA libraries; writes an NVIDIA ICD file when the driver
installed none), then runs the check with the kit's Node under the total time budget. Everything
printed also goes to gpu-kit.log beside the JSON summary. When Node cannot run at all, the PyTorch
steps still run from here. It changes no GPU setting and uses no network.

usage: run.sh [--small] [--out DIR] [--total-s SECONDS]
"""
import argparse
import glob
import hashlib
import io
import json
import lzma
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import time

KIT = os.path.dirname(os.path.abspath(__file__))
START = time.time()
LOG = None
ICD_DIRS = ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d", "/usr/local/share/vulkan/icd.d", "/usr/local/etc/vulkan/icd.d"]
LIB_DIRS = ["/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/lib/x86_64-linux-gnu", "/usr/local/nvidia/lib64", "/usr/local/nvidia/lib"]
NVIDIA_VULKAN_LIBS = ["libGLX_nvidia.so.0", "libnvidia-glcore.so", "libnvidia-glvkspirv.so", "libnvidia-gpucomp.so", "libnvidia-tls.so"]
DAWN_GLIBCXX = b"GLIBCXX_3.4.30"  # the newest libstdc++ symbol version dawn.node needs
NOISE_ON_CONSOLE = 40  # lines of Dawn/tfjs output shown on the console; the rest go to the log only


def say(line=""):
    print(line, flush=True)
    if LOG:
        LOG.write(line + "\n")
        LOG.flush()


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def unpack_xz(name, target, sha):
    """Decompresses the kit's NAME.xz into TARGET unless a copy with the right hash is there."""
    if os.path.exists(target) and sha256(target) == sha:
        return False
    os.makedirs(os.path.dirname(target), exist_ok=True)
    tmp = f"{target}.{os.getpid()}.tmp"
    with lzma.open(os.path.join(KIT, name)) as src, open(tmp, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    if sha256(tmp) != sha:
        raise RuntimeError(f"{name}: unpacked content does not match the manifest (damaged copy?)")
    os.chmod(tmp, 0o755)
    os.replace(tmp, target)
    return True


def deb_members(path):
    """The members of a .deb (an ar archive): name -> bytes."""
    with open(path, "rb") as f:
        data = f.read()
    if not data.startswith(b"!<arch>\n"):
        raise RuntimeError(f"{path} is not a .deb (ar) archive")
    members, pos = {}, 8
    while pos + 60 <= len(data):
        header = data[pos:pos + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        members[name] = data[pos + 60:pos + 60 + size]
        pos += 60 + size + (size & 1)
    return members


def extract_vulkan_loader(deb, dest):
    """Extracts libvulkan.so.1 (and the file it links to) from Debian's libvulkan1 .deb into DEST."""
    members = deb_members(deb)
    name = next((n for n in members if n.startswith("data.tar")), None)
    if name is None:
        raise RuntimeError(f"{deb} has no data.tar member")
    with tarfile.open(fileobj=io.BytesIO(members[name])) as tar:
        wanted = [m for m in tar.getmembers() if os.path.basename(m.name).startswith("libvulkan.so.1")]
        for m in wanted:
            m.name = os.path.basename(m.name)
            tar.extract(m, dest)
    loader = os.path.join(dest, "libvulkan.so.1")
    if not os.path.exists(loader):
        raise RuntimeError(f"{deb} holds no libvulkan.so.1")
    return loader


def find_lib(name):
    """Paths of a shared library NAME (prefix match) in the usual folders and ldconfig's cache."""
    found = []
    try:
        out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, timeout=10).stdout
        found += [line.split("=>")[-1].strip() for line in out.splitlines() if line.strip().startswith(name)]
    except (OSError, subprocess.SubprocessError):
        pass
    for d in LIB_DIRS:
        found += glob.glob(os.path.join(d, name + "*"))
    return sorted(set(p for p in found if os.path.exists(p)))


def vulkan_driver_report(work, env):
    """Prints the Vulkan ICD files and NVIDIA libraries found; writes an NVIDIA ICD file if needed."""
    icds = []
    for var in ("VK_ICD_FILENAMES", "VK_DRIVER_FILES"):
        if os.environ.get(var):
            say(f"{var}={os.environ[var]}")
            icds += [p for p in os.environ[var].split(":") if p]
    for d in ICD_DIRS:
        icds += sorted(glob.glob(os.path.join(d, "*.json")))
    nvidia_icd = None
    for path in dict.fromkeys(icds):
        try:
            with open(path) as f:
                lib = json.load(f).get("ICD", {}).get("library_path", "?")
        except (OSError, ValueError) as error:
            lib = f"unreadable: {error}"
        say(f"Vulkan ICD file: {path} -> {lib}")
        if "nvidia" in os.path.basename(path).lower() or "nvidia" in str(lib).lower():
            nvidia_icd = path
    for lib in NVIDIA_VULKAN_LIBS:
        paths = find_lib(lib)
        say(f"NVIDIA library {lib}: {', '.join(paths) if paths else 'not found'}")
    if nvidia_icd is None:
        glx = find_lib("libGLX_nvidia.so.0")
        if glx:
            nvidia_icd = os.path.join(work, "nvidia_icd.json")
            with open(nvidia_icd, "w") as f:
                json.dump({"file_format_version": "1.0.1", "ICD": {"library_path": glx[0], "api_version": "1.3.0"}}, f)
            env["VK_ICD_FILENAMES"] = env["VK_DRIVER_FILES"] = nvidia_icd
            say(f"no NVIDIA ICD file installed: wrote {nvidia_icd} -> {glx[0]} and pointed VK_ICD_FILENAMES at it")
        else:
            say("no NVIDIA ICD file and no libGLX_nvidia.so.0: Vulkan can only find the ICDs listed above")
    try:
        with open("/proc/driver/nvidia/version") as f:
            say(f"driver: {f.readline().strip()}")
    except OSError:
        say("driver: /proc/driver/nvidia/version absent")
    if shutil.which("nvidia-smi"):
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=30)
        say(f"nvidia-smi: {out.stdout.strip() or out.stderr.strip()}")


def libstdcxx_dir(work, manifest):
    """The kit's libstdc++ folder when the system's lacks what dawn.node needs, else None."""
    for path in find_lib("libstdc++.so.6"):
        with open(path, "rb") as f:
            if DAWN_GLIBCXX in f.read():
                say(f"libstdc++: {path} (has {DAWN_GLIBCXX.decode()})")
                return None
    target = os.path.join(work, "compat", "libstdc++.so.6")
    unpack_xz("libstdc++.so.6.xz", target, manifest["files"]["libstdc++.so.6.xz"]["unpacked_sha256"])
    say(f"libstdc++: the system's lacks {DAWN_GLIBCXX.decode()}; using the kit's {target}")
    return os.path.dirname(target)


def torch_python():
    """A python3 that can import torch (the launcher's own first), or None."""
    for py in dict.fromkeys([sys.executable, "/usr/bin/python3", shutil.which("python3") or ""]):
        if py and os.path.exists(py):
            probe = subprocess.run([py, "-c", "import importlib.util,sys; sys.exit(importlib.util.find_spec('torch') is None)"])
            if probe.returncode == 0:
                return py
    return None


def unpack(manifest):
    """Unpacks the kit into /tmp; returns the work folder."""
    work = os.path.join("/tmp", f"fsam-gpu-kit-{manifest['id']}")
    t = time.time()
    files = manifest["files"]
    fresh = [unpack_xz(f"{name}.xz", os.path.join(work, target), files[f"{name}.xz"]["unpacked_sha256"])
             for name, target in [("node", "node"), ("check.mjs", "check.mjs"), ("dawn.node", "node_modules/webgpu/dist/linux-x64/dawn.node")]]
    for name in ("package.json", "index.js"):
        shutil.copyfile(os.path.join(KIT, "webgpu", name), os.path.join(work, "node_modules", "webgpu", name))
    deb = os.path.join(KIT, manifest["vulkan_deb"])
    loader = extract_vulkan_loader(deb, os.path.join(work, "vulkan"))
    say(f"unpacked into {work} in {time.time() - t:.1f} s ({sum(fresh)} of 3 blobs fresh); Vulkan loader {loader} from {os.path.basename(deb)}")
    return work


def run_node(cmd, env, timeout):
    """Runs the check and kills it after TIMEOUT s; returns (exit code, last lines of its stdout/stderr).

    The check writes its own lines to a pipe of their own (FSAM_KIT_FD), echoed here and logged.
    Its stdout and stderr carry what Dawn and tfjs print (Dawn prints every WebGPU error there):
    all of it goes to the log, the first lines to the console too."""
    read_fd, write_fd = os.pipe()
    env = dict(env, FSAM_KIT_FD=str(write_fd))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                            pass_fds=(write_fd,))
    os.close(write_fd)
    tail, shown = [], [0]

    def pump_noise():
        for line in proc.stdout:
            line = line.rstrip("\n")
            LOG.write(f"[node] {line}\n")
            tail.append(line)
            del tail[:-30]
            if shown[0] < NOISE_ON_CONSOLE:
                print(f"[node] {line}", flush=True)
            elif shown[0] == NOISE_ON_CONSOLE:
                print("[node] … further Dawn/tfjs output (every WebGPU error) only in gpu-kit.log", flush=True)
            shown[0] += 1

    def kill():
        say(f"check still running past the total budget: killing pid {proc.pid}")
        proc.kill()

    noise = threading.Thread(target=pump_noise, daemon=True)
    noise.start()
    timer = threading.Timer(timeout, kill)
    timer.start()
    with os.fdopen(read_fd, encoding="utf-8", errors="replace") as lines:
        for line in lines:
            say(line.rstrip("\n"))
    code = proc.wait()
    timer.cancel()
    noise.join(timeout=5)
    return code, tail


def torch_alone(python, small, deadline):
    """Runs torch_bench.py directly (when the check could not run); returns its result cells."""
    left = max(10, deadline - time.time() - 10)
    cmd = [python, "-u", os.path.join(KIT, "torch_bench.py"), "--budget-s", f"{left:.0f}"] + (["--small", "--allow-cpu"] if small else [])
    cells = []
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    timer = threading.Timer(left + 30, proc.kill)
    timer.start()
    for line in proc.stdout:
        if line.startswith("@cell "):
            cells.append(json.loads(line[6:]))
        say(line.rstrip("\n"))
    proc.wait()
    timer.cancel()
    return cells


def main():
    global LOG
    p = argparse.ArgumentParser(description="FSAM Lab GPU kit")
    p.add_argument("--small", action="store_true", help="small shapes (the software-Vulkan test)")
    p.add_argument("--out", default=os.environ.get("OUT") or "/tmp/fsam-gpu-kit-out", help="folder for gpu-kit.log and the JSON summary")
    p.add_argument("--total-s", type=float, default=None, help="total budget (default 480, 900 with --small)")
    args = p.parse_args()
    total = args.total_s or (900 if args.small else 480)
    os.makedirs(args.out, exist_ok=True)
    LOG = open(os.path.join(args.out, "gpu-kit.log"), "w")
    summary = os.path.join(args.out, "gpu-kit-summary.json")
    if os.path.exists(summary):
        os.remove(summary)  # a summary there afterwards is this run's
    with open(os.path.join(KIT, "manifest.json")) as f:
        manifest = json.load(f)
    say(f"FSAM Lab GPU kit {manifest['id']} (commit {manifest['commit']}, built {manifest['built']}); "
        f"python {sys.version.split()[0]}; {os.confstr('CS_GNU_LIBC_VERSION')}; {os.cpu_count()} CPUs; budget {total:.0f} s")
    env = dict(os.environ)
    node_error = None
    try:
        work = unpack(manifest)
        vulkan_driver_report(work, env)
        lib_path = [os.path.join(work, "vulkan")] + [d for d in [libstdcxx_dir(work, manifest)] if d]
        env["LD_LIBRARY_PATH"] = ":".join(lib_path + [p for p in [os.environ.get("LD_LIBRARY_PATH")] if p])
    except Exception as error:  # report, then still run PyTorch below
        node_error = f"kit unpack failed: {type(error).__name__}: {error}"
    python = torch_python()
    say(f"python with torch: {python or 'none found'}")
    deadline = START + total
    env.update(FSAM_BACKEND="webgpu", FSAM_KIT_DIR=KIT, FSAM_KIT_OUT=args.out, FSAM_KIT_DEADLINE=str(int(deadline * 1000)),
               FSAM_KIT_SMALL="1" if args.small else "0", FSAM_KIT_PYTHON=python or "")
    code = 3
    if node_error is None:
        cmd = [os.path.join(work, "node"), os.path.join(work, "check.mjs")]
        try:
            code, tail = run_node(cmd, env, deadline - time.time() + 20)
            if code not in (0, 1):
                node_error = f"the check exited with {code}; its last output lines:\n  " + "\n  ".join(tail[-15:])
        except OSError as error:
            node_error = f"the kit's Node did not start: {error}"
    if node_error is not None:
        say(node_error)
    if node_error is not None and not os.path.exists(summary):
        say("running the PyTorch steps alone")
        torch_cells = torch_alone(python, args.small, deadline) if python else []
        with open(summary, "w") as f:
            json.dump({"ok": False, "error": node_error, "kit": manifest, "pytorch": {"cells": torch_cells}, "ours": []}, f, indent=1)
    say(f"log: {os.path.join(args.out, 'gpu-kit.log')}; summary: {summary}; total {time.time() - START:.1f} s")
    return code if code >= 0 else 3  # killed by a signal


if __name__ == "__main__":
    sys.exit(main())
