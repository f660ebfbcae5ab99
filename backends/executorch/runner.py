"""Running an ExecuTorch bundle through `executorch.runtime` (XNNPACK and the portable/quantized kernels)."""
from __future__ import annotations

import torch

from edge_sdk.backends.base import Runner
from edge_sdk.backends.loaded_graphs import LoadedGraphs


class ExecuTorchRunner(Runner):
    def __init__(self, bundle, load_in_turn: bool = False):
        # Registers quantized_decomposed kernels: int8 bundles dequantize their position tables with them.
        import executorch.kernels.quantized  # noqa: F401
        from executorch.runtime import Runtime

        runtime = Runtime.get()

        def load(name: str):
            program = runtime.load_program(bundle.graph_path(name))
            return program, program.load_method("forward")  # the program is kept with its method

        self._graphs = LoadedGraphs(load, in_turn=load_in_turn)
        self.decode_tiling = bundle.manifest.tiling

    def run(self, name: str, *inputs: torch.Tensor) -> list[torch.Tensor]:
        _, method = self._graphs[name]
        # ExecuTorch reads input memory as contiguous whatever the strides: pass contiguous tensors.
        return list(method.execute([x.contiguous() for x in inputs]))
