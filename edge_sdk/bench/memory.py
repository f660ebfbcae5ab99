"""Peak resident memory of one bundle (or the eager reference), each measured in its own child process.

A child imports the runtime, records its resident size (the baseline: Python, torch, the runtime's
libraries), loads the bundle, runs encode, a few steps and decode, and reports `ru_maxrss`, its peak
resident set. Separate processes keep one bundle's memory out of another's number.

    python -m edge_sdk.bench.memory bundle DIR [--steps K] [--threads T] [--load-in-turn]
    python -m edge_sdk.bench.memory reference DIR [--checkpoint F --vae D] [--steps K] [--threads T]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

from edge_sdk.errors import EdgeSDKError

PROBE_STEPS = 1  # activations are the same every step: one shows the peak


class MemoryProbeError(EdgeSDKError):
    """The child process that measures memory failed."""


def peak_rss_mb() -> float:
    """This process's peak resident set in MiB.

    Linux: VmHWM, the high-water mark of this program's own memory. Not ru_maxrss: Linux carries the
    parent's high-water mark into a child across fork/vfork + exec, so every probe child reported the
    benchmark process's peak (3133 MB for both 0.2B ExecuTorch rows). Elsewhere ru_maxrss (bytes on macOS).
    """
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10  # kB
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def current_rss_mb() -> Optional[float]:
    """Resident set now (Linux /proc; None elsewhere)."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return None


def measure_in_child(
    kind: str, bundle: Path, threads: Optional[int] = None, checkpoint=None, vae=None, steps: int = PROBE_STEPS, load_in_turn: bool = False
) -> dict:
    """{'peak_rss_mb', 'baseline_rss_mb', 'seconds'} of a fresh process that loads and runs `bundle` (kind 'bundle';
    `load_in_turn`: one graph in memory at a time) or the eager reference of its model (kind 'reference')."""
    command = [sys.executable, "-m", "edge_sdk.bench.memory", kind, str(bundle), "--steps", str(steps)]
    if load_in_turn:
        command.append("--load-in-turn")
    if threads is not None:
        command += ["--threads", str(threads)]
    if checkpoint is not None:
        command += ["--checkpoint", str(checkpoint), "--vae", str(vae)]
    env = dict(os.environ, DIFFUSERS_VERBOSITY="error")
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise MemoryProbeError(f"memory probe of {bundle} ({kind}) failed: {tail}")
    return json.loads(lines[-1])


def _probe(args) -> dict:
    import torch

    from edge_sdk.samples import sample_square
    from edge_sdk.threads import use_threads

    if args.threads is not None:
        use_threads(args.threads)  # ONNX Runtime's sessions too
    if args.kind == "bundle":
        from edge_sdk.backends import get_backend
        from edge_sdk.bundle.manifest import read_bundle

        bundle = read_bundle(args.bundle, verify_files=False)
        get_backend(bundle.backend)  # import the runtime before the baseline is taken
        import edge_sdk.bundle.inpaint_bundle  # noqa: F401
    baseline = current_rss_mb()
    start = time.perf_counter()
    if args.kind == "bundle":
        from edge_sdk.bundle.inpaint_bundle import load

        graphs = load(args.bundle, load_in_turn=args.load_in_turn).graphs
        size = bundle.image_size
    else:
        from edge_sdk.bench.reference import reference_graphs
        from edge_sdk.bundle.manifest import Manifest

        manifest = Manifest.read(Path(args.bundle))
        graphs = reference_graphs(manifest, args.checkpoint, args.vae)
        size = manifest.image_size
    image, mask = sample_square(0, size)
    # Where the memory goes: the resident set after each phase, and the high-water mark so far.
    phases = {"loaded": _memory_now()}
    with torch.no_grad():
        masked_latents, mask_latent, *_ = graphs.encode(image, mask)
        phases["encode"] = _memory_now()
        x = torch.zeros(1, masked_latents.shape[1], *masked_latents.shape[-2:])
        for i in range(args.steps):
            x = graphs.step(x, masked_latents.float(), mask_latent.float(), torch.tensor([i % len(graphs.timesteps)]))
        phases["steps"] = _memory_now()
        graphs.decode(x)
        phases["decode"] = _memory_now()
    return {
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "baseline_rss_mb": None if baseline is None else round(baseline, 1),
        "phases_mb": phases,
        "seconds": round(time.perf_counter() - start, 2),  # load and run: what loading in turn costs shows here
    }


def _memory_now() -> dict:
    now = current_rss_mb()
    return {"rss": None if now is None else round(now, 1), "peak": round(peak_rss_mb(), 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="peak resident memory of one bundle, run in this process")
    parser.add_argument("kind", choices=("bundle", "reference"))
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--steps", type=int, default=PROBE_STEPS)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--vae", type=Path)
    parser.add_argument("--load-in-turn", action="store_true", help="bundles: one graph in memory at a time")
    args = parser.parse_args(argv)
    print(json.dumps(_probe(args)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
