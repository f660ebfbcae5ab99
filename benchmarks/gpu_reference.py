"""GPU reference: the deploy `step` graph on CUDA in fp32/fp16/bf16, eager, CUDA-graph captured and compiled.

Every on-device number is compared with this. One command prints a table and writes JSON:

    python benchmarks/gpu_reference.py                     # moebius-0.2b, random weights, on the GPU
    python benchmarks/gpu_reference.py --checkpoint diffusion_pytorch_model.bin --vae path/to/vae
    python benchmarks/gpu_reference.py --reduced           # tiny model, 2 steps, eager only (CPU test mode)

Rows: the unoptimized graphs (the official computation, module for module) and the optimized ones
(edge_sdk.deploy.passes), in each precision; fp16/bf16 with and without the fp32 λ islands of
edge_sdk.deploy.precision. Per row: one CFG step (batch of two + guidance + DDIM) and the whole 512²
inpaint (encode, every step, decode), timed with CUDA events after warm-up, and the relative error
against fp32 of ε (the CFG batch's noise prediction) and of the final latent. Targets for the 0.2B
model on an H100 in fp16: ≤ 5 ms per CFG step and ≤ 150 ms per inpaint.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import platform
import time
from pathlib import Path
from typing import Callable, Optional

import torch

from edge_sdk.checkpoint import load_denoiser
from edge_sdk.deploy import DeployGraphs
from edge_sdk.deploy.precision import set_step_precision
from edge_sdk.vae import build_vae, load_vae

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
MODES = ("eager", "cuda-graph", "compile", "compile-cuda-graph")
TARGET_STEP_MS = 5.0
TARGET_INPAINT_MS = 150.0
REFERENCE_NOTE = (
    "official implementation on an H100: 50-65 ms per CFG step eager (paper: 26.01 ms); "
    "official fp16/bf16 relative error on random weights: 1.5e-2 / 1.2e-1"
)


@dataclasses.dataclass
class Row:
    graphs: str  # "unoptimized" or "optimized"
    dtype: str
    fp32_lambda: bool
    mode: str
    step_ms: Optional[float] = None
    inpaint_ms: Optional[float] = None
    eps_rel_err: Optional[float] = None
    latent_rel_err: Optional[float] = None
    peak_memory_mb: Optional[float] = None
    error: Optional[str] = None

    @property
    def deployable(self) -> bool:
        """What a deployment would run: the optimized graphs, with fp32 islands when not in fp32."""
        return self.graphs == "optimized" and (self.dtype == "fp32" or self.fp32_lambda)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="moebius-0.2b", help="denoiser config preset or YAML (default moebius-0.2b)")
    parser.add_argument("--checkpoint", type=Path, help="denoiser weights; default: seeded random weights")
    parser.add_argument("--vae", help="VAE preset (tiny, pixelhacker) or diffusers folder; default: the preset's")
    parser.add_argument("--device", default="auto", help="cuda, cpu or auto (default)")
    parser.add_argument("--dtypes", help="comma list of fp32, fp16, bf16 (default all three; --reduced: fp32,bf16)")
    parser.add_argument("--modes", default="eager,cuda-graph,compile", help=f"comma list of {', '.join(MODES)}")
    parser.add_argument(
        "--compile-mode", default="default",
        help="torch.compile mode of the 'compile' rows (default; max-autotune-no-cudagraphs tunes longer)",
    )
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--strength", type=float, default=0.99, help="0.99: 19 steps and two encodes, as the official CLI")
    parser.add_argument("--guidance", type=float, default=2.5)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--iters", type=int, default=20, help="timed CFG steps per row")
    parser.add_argument("--inpaint-iters", type=int, default=3, help="timed whole inpaints per row")
    parser.add_argument("--json", type=Path, default=Path("gpu_reference.json"), help="where to write the results")
    parser.add_argument(
        "--reduced", action="store_true",
        help="CPU smoke test: tiny model, 3 steps at strength 0.99 (2 run), eager, fp32 and bf16 (fp16 convolutions "
        "are emulated and very slow on CPUs), one timed step per row, one timed inpaint (optimized, first dtype)",
    )
    args = parser.parse_args(argv)
    if args.reduced:
        args.preset, args.vae = "tiny", args.vae or "tiny"
        args.steps, args.modes, args.dtypes = 3, "eager", args.dtypes or "fp32,bf16"
        args.warmup, args.iters, args.inpaint_iters = 0, 1, 1
    args.dtypes = args.dtypes or "fp32,fp16,bf16"
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    args.dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for dtype in args.dtypes:
        if dtype not in DTYPES:
            parser.error(f"unknown dtype {dtype!r}: use {', '.join(DTYPES)}")
    for mode in args.modes:
        if mode not in MODES:
            parser.error(f"unknown mode {mode!r}: use {', '.join(MODES)}")
    if args.device != "cuda":
        args.modes = [m for m in args.modes if m in ("eager", "compile")]
    return args


def rel_err(value: torch.Tensor, reference: torch.Tensor) -> float:
    value, reference = value.double(), reference.double()
    return float((value - reference).norm() / reference.norm())


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_ms(fn: Callable[[], object], warmup: int, iters: int, device: torch.device) -> float:
    """Mean wall time of one call: CUDA events on the GPU (no host sync inside the timed loop)."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(iters):
            fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / iters
    begin = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - begin) * 1000 / iters


class CapturedGraph:
    """A module replayed from a CUDA graph: inputs are copied into static buffers, outputs are static too
    (valid until the next call, which is all the host loop needs)."""

    def __init__(self, module, example_inputs: tuple):
        self.static_inputs = tuple(x.clone() for x in example_inputs)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side), torch.no_grad():
            for _ in range(3):  # warm-up on a side stream: cuDNN autotuning, allocator pools
                module(*self.static_inputs)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph), torch.no_grad():
            self.static_outputs = module(*self.static_inputs)

    def __call__(self, *inputs):
        for static, value in zip(self.static_inputs, inputs):
            if static.data_ptr() != value.data_ptr():
                static.copy_(value)
        self.graph.replay()
        return self.static_outputs


def runner(module, example_inputs: tuple, mode: str, compile_mode: str) -> Callable:
    """`module` as the mode runs it: eager, CUDA-graph replay, torch.compile, or compiled + CUDA graphs."""
    if mode == "eager":
        return module
    if mode == "cuda-graph":
        return CapturedGraph(module, example_inputs)
    if mode == "compile":
        return torch.compile(module, mode=compile_mode, fullgraph=True, dynamic=False)
    compiled = torch.compile(module, mode="reduce-overhead", fullgraph=True, dynamic=False)

    def call(*inputs):
        # CUDA-graph trees reuse output memory on the next replay: mark the step and hand out copies.
        torch.compiler.cudagraph_mark_step_begin()
        out = compiled(*inputs)
        return tuple(o.clone() for o in out) if isinstance(out, tuple) else out.clone()

    return call


@dataclasses.dataclass
class Inputs:
    image: torch.Tensor
    mask: torch.Tensor
    noise: torch.Tensor
    x: torch.Tensor
    masked_latents: torch.Tensor
    mask_latent: torch.Tensor

    @classmethod
    def make(cls, graphs: DeployGraphs, device: torch.device) -> "Inputs":
        side, latent = graphs.config.image_size, graphs.config.sample_size
        gen = torch.Generator().manual_seed(0)
        yy, xx = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
        hole = ((yy - side // 2).abs() < side // 4) & ((xx - side // 2).abs() < side // 4)  # a centred square hole
        to = dict(device=device)
        return cls(
            image=(torch.rand(1, 3, side, side, generator=gen) * 2 - 1).to(**to),
            mask=hole.float()[None, None].to(**to),
            noise=torch.randn(1, 4, latent, latent, generator=gen).to(**to),
            x=torch.randn(1, 4, latent, latent, generator=gen).to(**to),
            masked_latents=torch.randn(1, 4, latent, latent, generator=gen).to(**to),
            mask_latent=(torch.rand(1, 1, latent, latent, generator=gen) > 0.5).float().to(**to),
        )


def variant(graphs: DeployGraphs, dtype: torch.dtype, fp32_lambda: bool) -> DeployGraphs:
    """A copy of fp32 graphs in `dtype` (the step's guidance and DDIM update stay fp32)."""
    if dtype == torch.float32:
        return graphs
    step = set_step_precision(copy.deepcopy(graphs.step), dtype, fp32_lambda=fp32_lambda)
    encode = copy.deepcopy(graphs.encode).to(dtype)
    decode = copy.deepcopy(graphs.decode).to(dtype)
    return dataclasses.replace(graphs, step=step, encode=encode, decode=decode)


@torch.no_grad()
def reference_outputs(graphs: DeployGraphs, inputs: Inputs) -> tuple[torch.Tensor, torch.Tensor]:
    """ε of the CFG batch at the first baked step, and the final latent of the whole loop."""
    index = torch.zeros(1, dtype=torch.int64, device=inputs.x.device)
    sample = torch.cat([inputs.x, inputs.mask_latent, inputs.masked_latents], dim=1).repeat(2, 1, 1, 1)
    eps = graphs.step.denoiser(sample.to(graphs.step.compute_dtype), index).float()
    final = graphs.denoise(inputs.noise, inputs.masked_latents, inputs.mask_latent)
    return eps, final


@torch.no_grad()
def measure(row: Row, graphs: DeployGraphs, inputs: Inputs, args, device: torch.device, reference) -> None:
    vae_dtype = next(graphs.decode.parameters()).dtype
    image, mask = inputs.image.to(vae_dtype), inputs.mask.to(vae_dtype)
    n = len(graphs.timesteps)
    indices = [torch.tensor([i], dtype=torch.int64, device=device) for i in range(n)]
    step_inputs = (inputs.x, inputs.masked_latents, inputs.mask_latent, indices[0])
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    step = runner(graphs.step, step_inputs, row.mode, args.compile_mode)
    row.step_ms = time_ms(lambda: step(*step_inputs), args.warmup, args.iters, device)
    if row.mode == "eager":
        eps, final = reference_outputs(graphs, inputs)
        row.eps_rel_err = rel_err(eps, reference[row.graphs][0])
        row.latent_rel_err = rel_err(final, reference[row.graphs][1])
    # A 512² VAE pass costs seconds on a CPU: the reduced mode times one inpaint, of the first deployable row.
    if args.reduced and (not row.deployable or row.dtype != args.dtypes[0]):
        return

    encode = runner(graphs.encode, (image, mask), row.mode, args.compile_mode)
    decode = runner(graphs.decode, (inputs.x.to(vae_dtype),), row.mode, args.compile_mode)

    def inpaint():
        masked_latents, mask_latent, *clean = encode(image, mask)
        x = graphs.start_latent(inputs.noise, *[c.float() for c in clean])
        masked_latents, mask_latent = masked_latents.float(), mask_latent.float()
        for index in indices:
            x = step(x, masked_latents, mask_latent, index)
        return decode(x.to(vae_dtype))

    row.inpaint_ms = time_ms(inpaint, 0 if args.reduced else 1, args.inpaint_iters, device)
    if device.type == "cuda":
        row.peak_memory_mb = torch.cuda.max_memory_allocated(device) / 2**20


def plan(args) -> list[Row]:
    rows = []
    for name in args.dtypes:
        low_precision = name != "fp32"
        for mode in args.modes:
            if mode in ("eager", "cuda-graph"):
                rows.append(Row("unoptimized", name, False, mode))
            rows.append(Row("optimized", name, low_precision, mode))
        if low_precision:  # the islands' worth: the same graph with every λ op in the reduced type
            rows.append(Row("optimized", name, False, "eager"))
    return rows


def build(args, device: torch.device) -> dict[str, DeployGraphs]:
    denoiser = load_denoiser(args.checkpoint, args.preset)
    if args.vae in (None, "pixelhacker", "tiny"):
        vae = build_vae(args.vae or ("tiny" if args.preset == "tiny" else "pixelhacker"))
    else:
        vae = load_vae(args.vae)
    denoiser, vae = denoiser.to(device), vae.to(device)
    options = dict(steps=args.steps, strength=args.strength, guidance_scale=args.guidance)
    return {
        "unoptimized": DeployGraphs.build(denoiser, vae, optimize=False, **options),
        "optimized": DeployGraphs.build(denoiser, vae, optimize=True, **options),
    }


def format_table(rows: list[Row]) -> str:
    def cell(value, fmt):
        return "-" if value is None else fmt.format(value)

    header = f"{'graphs':12} {'dtype':5} {'λ fp32':6} {'mode':18} {'step ms':>9} {'inpaint ms':>11} {'ε rel err':>10} {'x rel err':>10} {'peak MiB':>9}"
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r.graphs:12} {r.dtype:5} {'yes' if r.fp32_lambda else 'no':6} {r.mode:18} "
            f"{cell(r.step_ms, '{:9.2f}'):>9} {cell(r.inpaint_ms, '{:11.1f}'):>11} "
            f"{cell(r.eps_rel_err, '{:10.2e}'):>10} {cell(r.latent_rel_err, '{:10.2e}'):>10} "
            f"{cell(r.peak_memory_mb, '{:9.0f}'):>9}" + (f"  FAILED: {r.error}" if r.error else "")
        )
    return "\n".join(lines)


def main(argv=None) -> dict:
    args = parse_args(argv)
    device = torch.device(args.device)
    # fp32 rows are true fp32: no TF32 in cuDNN convolutions or matmuls.
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.benchmark = True

    fp32 = build(args, device)
    inputs = Inputs.make(fp32["optimized"], device)
    reference = {name: reference_outputs(graphs, inputs) for name, graphs in fp32.items()}
    rows = plan(args)
    for row in rows:
        try:
            graphs = variant(fp32[row.graphs], DTYPES[row.dtype], row.fp32_lambda)
            measure(row, graphs, inputs, args, device, reference)
        except Exception as exc:  # one failing configuration must not hide the others
            row.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:200]
        finally:
            if row.mode.startswith("compile"):
                torch._dynamo.reset()  # compiled code holds on to this row's module copy
            if device.type == "cuda":
                torch.cuda.empty_cache()

    card = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    result = {
        "device": card,
        "device_type": device.type,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "preset": args.preset,
        "checkpoint": str(args.checkpoint) if args.checkpoint else None,
        "reduced": args.reduced,
        "steps": args.steps,
        "strength": args.strength,
        "steps_run": len(fp32["optimized"].timesteps),
        "guidance_scale": args.guidance,
        "targets": {"step_ms": TARGET_STEP_MS, "inpaint_ms": TARGET_INPAINT_MS, "for": "moebius-0.2b, H100, fp16"},
        "reference": REFERENCE_NOTE,
        "rows": [dataclasses.asdict(r) for r in rows],
    }
    print(f"GPU reference on {card} ({device.type}), {args.preset}, {result['steps_run']} steps, torch {torch.__version__}")
    print(format_table(rows))
    if device.type == "cuda" and args.preset == "moebius-0.2b":
        best = [r for r in rows if r.dtype == "fp16" and r.deployable and r.step_ms is not None]
        if best:
            fastest = min(best, key=lambda r: r.step_ms)
            print(
                f"fastest fp16: {fastest.mode} {fastest.step_ms:.2f} ms/step (target ≤ {TARGET_STEP_MS}), "
                f"{fastest.inpaint_ms:.1f} ms/inpaint (target ≤ {TARGET_INPAINT_MS})"
            )
    print(REFERENCE_NOTE)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.json}")
    return result


if __name__ == "__main__":
    main()
