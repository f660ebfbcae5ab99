"""The interface every backend implements, and what it is handed.

A backend turns the three deploy graphs (`edge_sdk.deploy.DeployGraphs`) into files in its runtime's format
and runs such files back:

    backend.available()                       -> (True, "") or (False, "why not")    # can export here
    backend.runtime_available()               -> (bool, reason)                       # can run bundles here
    backend.export(graphs, precision, recipe=None, out_dir=DIR, programs=None, progress=print) -> ExportResult
    backend.open(bundle)                      -> Runner (encode / step / decode)

Bundles (manifest, hashes, test vector, atomic writing) and the host loop live in `edge_sdk.bundle`; a
backend only writes its graph files into the directory it is given.
"""
from __future__ import annotations

import abc
import dataclasses
import time
from typing import Callable, Optional

import torch

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
    """Runs a bundle's graphs; tensors in and out are torch tensors (fp32, int64 for the step index)."""

    @abc.abstractmethod
    def encode(self, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        ...

    @abc.abstractmethod
    def step(self, x: torch.Tensor, masked_latents: torch.Tensor, mask_latent: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        ...

    @abc.abstractmethod
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        ...


class Backend(abc.ABC):
    name: str = ""
    precisions: tuple[str, ...] = ()
    # The file (or directory) suffix of one graph, e.g. ".pte".
    suffix: str = ""

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
        calibration=None,
        progress: Progress = quiet,
    ) -> ExportResult:
        ...

    @abc.abstractmethod
    def open(self, bundle) -> Runner:
        ...


class ProgramCache:
    """`torch.export` of each fp32 deploy graph, done once and shared by every backend that starts from it."""

    def __init__(self, graphs):
        self.graphs = graphs
        self._programs: dict[str, torch.export.ExportedProgram] = {}
        self.seconds: dict[str, float] = {}

    def program(self, name: str) -> torch.export.ExportedProgram:
        if name not in self._programs:
            start = time.perf_counter()
            self._programs[name] = self.graphs.export(names=(name,))[name]
            self.seconds[name] = time.perf_counter() - start
        return self._programs[name]


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
