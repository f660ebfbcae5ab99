"""Running an ExecuTorch bundle through `executorch.runtime` (XNNPACK and the portable/quantized kernels)."""
from __future__ import annotations

import torch

from edge_sdk.backends.base import Runner
from edge_sdk.deploy.graph_contract import GRAPH_NAMES


class ExecuTorchRunner(Runner):
    def __init__(self, bundle):
        # Registers quantized_decomposed kernels: int8 bundles dequantize their position tables with them.
        import executorch.kernels.quantized  # noqa: F401
        from executorch.runtime import Runtime

        runtime = Runtime.get()
        self._programs = {name: runtime.load_program(bundle.graph_path(name)) for name in GRAPH_NAMES}
        self._methods = {name: program.load_method("forward") for name, program in self._programs.items()}

    def run(self, name: str, *inputs: torch.Tensor) -> list[torch.Tensor]:
        # ExecuTorch reads input memory as contiguous whatever the strides: pass contiguous tensors.
        return list(self._methods[name].execute([x.contiguous() for x in inputs]))
