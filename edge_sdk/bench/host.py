"""What machine and toolchain a benchmark ran on: absolute times mean nothing without them."""
from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Optional

TOOLCHAIN = ("torch", "executorch", "onnxruntime", "coremltools", "tensorrt", "numpy", "diffusers")


def cpu_model() -> str:
    """The CPU's marketing name (/proc/cpuinfo on Linux, sysctl on macOS), else what platform reports."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Hardware", "Processor") and value.strip():
                return value.strip()
    if sys.platform == "darwin":
        import subprocess

        try:
            return subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True, timeout=5).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine()


def memory_total_gb() -> Optional[float]:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def load_average() -> Optional[list[float]]:
    """1, 5 and 15 minute load averages: on a shared machine they say how much the numbers can be trusted."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def gpu_name() -> Optional[str]:
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "Apple GPU (MPS)"
    except Exception:  # a broken CUDA install must not stop a CPU benchmark
        return None
    return None


def describe_host() -> dict:
    return {
        "cpu": cpu_model(),
        "logical_cores": os.cpu_count(),
        "memory_gb": memory_total_gb(),
        "gpu": gpu_name(),
        "os": f"{platform.system()} {platform.release()}",
        "machine": platform.machine(),
        "python": platform.python_version(),
        "load_average_start": load_average(),
    }


def toolchain_versions() -> dict[str, str]:
    from importlib import metadata

    from edge_sdk import __version__

    versions = {"moebius-edge": __version__}
    for name in TOOLCHAIN:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions
