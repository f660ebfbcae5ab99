"""Running an ONNX bundle with ONNX Runtime: CUDA where the installed build has it, else the CPU provider."""
from __future__ import annotations

import numpy as np
import torch

from edge_sdk.backends.base import Runner
from edge_sdk.backends.loaded_graphs import LoadedGraphs


def providers() -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


class OnnxRuntimeRunner(Runner):
    def __init__(self, bundle, threads: int | None = None, load_in_turn: bool = False):
        import onnxruntime as ort

        from edge_sdk.threads import chosen_threads

        options = ort.SessionOptions()
        threads = threads or chosen_threads()  # what the CLI's --threads (or edge_sdk.threads) chose
        if threads:
            options.intra_op_num_threads = threads
        self.sessions = LoadedGraphs(
            lambda name: ort.InferenceSession(str(bundle.graph_path(name)), sess_options=options, providers=providers()),
            in_turn=load_in_turn,
        )

    def run(self, name: str, *inputs: torch.Tensor) -> list[torch.Tensor]:
        session = self.sessions[name]
        feeds = {meta.name: np.ascontiguousarray(x.detach().cpu().numpy()) for meta, x in zip(session.get_inputs(), inputs)}
        return [torch.from_numpy(np.asarray(y)) for y in session.run(None, feeds)]
