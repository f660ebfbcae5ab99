"""The interface every backend implements, and what it is handed.

A backend turns the three deploy graphs (`edge_sdk.deploy.DeployGraphs`) into files in its runtime's format
and runs such files back:

    backend.available()                       -> (True, "") or (False, "why not")    # can export here
    backend.runtime_available()               -> (bool, reason)                       # can run bundles here
    backend.export(graphs, precision, recipe=None, out_dir=DIR, programs=None, calibration_samples=None,
                   vae_precision=None, progress=print)   # vae_precision None: the backend's default for `precision`
    backend.open(bundle, load_in_turn=False)  -> Runner (encode / step / decode; in turn: one graph in memory at a time)

Bundles (manifest, hashes, test vector, atomic writing) live in `edge_sdk.bundle` and the host loop in
`edge_sdk.deploy.host_loop`; a backend only writes its graph files into the directory it is given.
"""
from __future__ import annotations

import abc
import dataclasses
import time
from typing import Callable, Optional

import torch

from edge_sdk.deploy.tiled_decode import DecodeTiling, decode_maybe_tiled
from edge_sdk.deploy.vae_precision import vae_graph_precisions, vae_precision_name
from edge_sdk.errors import BackendUnavailableError, ExportError

Progress = Callable[[str], None]


def quiet(_: str) -> None:
    pass


@dataclasses.dataclass
class ExportResult:
    """What an export wrote: a file (or directory, e.g. `.mlpackage`) per graph, relative to out_dir,
    the precision each graph runs in, and facts for the manifest (delegation summary, commands, notes)."""

    files: dict[str, str]
    graph_precisions: dict[str, str]
    details: dict = dataclasses.field(default_factory=dict)
    extra_files: list[str] = dataclasses.field(default_factory=list)
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)


class Runner(abc.ABC):
    """Runs a bundle's graphs; tensors in and out are torch tensors (fp32, int64 for the step index).

    A runtime implements `run`; the graphs' signatures are spelled out once, here."""

    # The step index's dtype in the graph file (Core ML takes int32).
    index_dtype = torch.int64
    # Set where the bundle's decode graph takes latent tiles (manifest `decode_tiling`): `decode` blends them.
    decode_tiling: Optional[DecodeTiling] = None

    @abc.abstractmethod
    def run(self, name: str, *inputs: torch.Tensor) -> list[torch.Tensor]:
        """The outputs of graph `name` ("encode", "step" or "decode") for `inputs`, in the manifest's order."""

    def encode(self, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.run("encode", image.float(), mask.float()))

    def step(self, x: torch.Tensor, masked_latents: torch.Tensor, mask_latent: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        index = index.to(self.index_dtype).reshape(1)
        return self.run("step", x.float(), masked_latents.float(), mask_latent.float(), index)[0]

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return decode_maybe_tiled(lambda tile: self.run("decode", tile)[0], latents.float(), self.decode_tiling)


class Backend(abc.ABC):
    name: str = ""
    precisions: tuple[str, ...] = ()
    # Why the VAE graphs (encode, decode) come only in `vae_precisions(...)`: said when another is asked for.
    vae_reason: str = ""
    # The file (or directory) suffix of one graph, e.g. ".pte".
    suffix: str = ""
    # Whether this backend's runtimes run a decode graph exported for latent tiles (manifest `decode_tiling`).
    tiled_decode: bool = False

    @abc.abstractmethod
    def available(self) -> tuple[bool, str]:
        """Whether this machine can export for the backend, and if not, why."""

    @abc.abstractmethod
    def runtime_available(self) -> tuple[bool, str]:
        """Whether this machine can run the backend's bundles, and if not, why."""

    @abc.abstractmethod
    def toolchain_versions(self) -> dict[str, str]:
        ...

    @abc.abstractmethod
    def export(
        self,
        graphs,
        precision: str,
        recipe=None,
        out_dir=None,
        *,
        programs: Optional["ProgramCache"] = None,
        calibration_samples=None,
        vae_precision: Optional[str] = None,
        progress: Progress = quiet,
    ) -> ExportResult:
        ...

    @abc.abstractmethod
    def open(self, bundle, *, load_in_turn: bool = False) -> Runner:
        """The runner of `bundle`'s graphs; `load_in_turn` keeps one graph loaded at a time (backends/loaded_graphs.py)."""

    @abc.abstractmethod
    def vae_precisions(self, precision: str) -> tuple[str, ...]:
        """The precisions the VAE graphs of a `precision` bundle can have; the first is the default."""

    def vae_precision(self, precision: str, asked: Optional[str] = None) -> str:
        """The VAE precision a `precision` bundle gets: `asked` (one precision, or ENCODE/DECODE: see
        edge_sdk/deploy/vae_precision.py), or the backend's default; a one-line error when this backend cannot
        run a VAE graph in the precision asked for it."""
        allowed = self.vae_precisions(precision)
        if asked is None:
            return allowed[0]
        try:
            per_graph = vae_graph_precisions(asked)
        except ValueError as error:
            raise ExportError(str(error)) from None
        for graph_precision in per_graph.values():
            if graph_precision not in allowed:
                raise ExportError(
                    f"backend {self.name} exports {precision} bundles with the VAE in {' or '.join(allowed)}, not {graph_precision}"
                    + (f": {self.vae_reason}" if self.vae_reason else "")
                )
        return vae_precision_name(**per_graph)

    def check_export(self, precision: str, vae_precision: Optional[str] = None, decode_tiling: Optional[DecodeTiling] = None) -> None:
        """Raise a one-line error unless this machine can export `precision` (with that VAE precision, and a
        tiled decode graph when `decode_tiling` is given) for this backend."""
        ok, why = self.available()
        if not ok:
            raise BackendUnavailableError(f"cannot export for {self.name} here: {why}")
        self.check_precision(precision)
        self.vae_precision(precision, vae_precision)
        if decode_tiling is not None and not self.tiled_decode:
            raise ExportError(
                f"backend {self.name} runs the decode graph whole: a tiled decode (--decode-tile) is for executorch "
                "bundles, whose Python and C++ runtimes blend the tiles"
            )

    def check_precision(self, precision: str) -> None:
        if precision not in self.precisions:
            raise ExportError(f"backend {self.name} exports precision {', '.join(self.precisions)}, not {precision}")


def require_recipe(recipe) -> None:
    """An int8 export applies a calibration recipe: without one there is nothing to quantize with."""
    if recipe is None:
        raise ExportError("int8 export needs a calibration recipe: pass --recipe recipe.json or --calibrate")


class ProgramCache:
    """Work on the deploy graphs that several exports start from, done once per graphs object: the
    `torch.export` of each fp32 graph and of the fp16 VAE graphs, and (through `memo`) converted files that
    two precisions of one backend share (an fp32 ONNX graph, an fp16 Core ML package)."""

    def __init__(self, graphs):
        self.graphs = graphs
        self._memo: dict = {}
        self.seconds: dict[str, float] = {}

    def __contains__(self, key) -> bool:
        return key in self._memo

    def for_graphs(self, graphs) -> "ProgramCache":
        """A cache for `graphs` that differ from these in the decode graph's tiling only: it starts with this
        cache's work on the other graphs (the step's lowering is most of an export's time)."""
        cache = ProgramCache(graphs)
        cache._memo = {key: value for key, value in self._memo.items() if not _concerns_the_vae(key)}
        return cache

    def memo(self, key, build: Callable):
        if key not in self._memo:
            start = time.perf_counter()
            self._memo[key] = build()
            self.seconds[str(key)] = time.perf_counter() - start
        return self._memo[key]

    def program(self, name: str) -> torch.export.ExportedProgram:
        """The fp32 graph `name`, exported with static shapes."""
        return self.memo(("fp32", name), lambda: self.graphs.export(names=(name,))[name])

    def half_program(self, name: str) -> torch.export.ExportedProgram:
        """The VAE graph `name` ("encode" or "decode") in fp16 behind fp32 inputs and outputs."""
        from edge_sdk.backends.graphs import HalfPrecisionGraph

        def export():
            with torch.no_grad():
                return torch.export.export(HalfPrecisionGraph(getattr(self.graphs, name)), self.graphs.example_inputs()[name])

        return self.memo(("fp16", name), export)


def _concerns_the_vae(key) -> bool:
    """Whether a ProgramCache key names work on a VAE graph (its int8 calibration covers both)."""
    return any(part in ("encode", "decode", "int8-vae") for part in key)


def package_version(distribution: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def importable(module: str) -> tuple[bool, str]:
    """Whether `module` imports, and the first line of the error when it does not."""
    import importlib

    try:
        importlib.import_module(module)
    except Exception as exc:  # an ImportError, or a broken native library raising something else
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        return False, f"{module} does not import ({first})"
    return True, ""
