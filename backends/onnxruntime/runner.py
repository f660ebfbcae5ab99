"""Running an ONNX bundle with ONNX Runtime: CUDA where the installed build has it, else the CPU provider."""
from __future__ import annotations

import numpy as np
import torch

from edge_sdk.backends.base import Runner
from edge_sdk.deploy.graph_contract import GRAPH_NAMES


def providers() -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


class OnnxRuntimeRunner(Runner):
    def __init__(self, bundle, threads: int | None = None):
        import onnxruntime as ort

        from edge_sdk.threads import chosen_threads

        options = ort.SessionOptions()
        threads = threads or chosen_threads()  # what the CLI's --threads (or edge_sdk.threads) chose
        if threads:
            options.intra_op_num_threads = threads
        self.sessions = {
            name: ort.InferenceSession(str(bundle.graph_path(name)), sess_options=options, providers=providers())
            for name in GRAPH_NAMES
        }

    def run(self, name: str, *inputs: torch.Tensor) -> list[torch.Tensor]:
        session = self.sessions[name]
        feeds = {meta.name: np.ascontiguousarray(x.detach().cpu().numpy()) for meta, x in zip(session.get_inputs(), inputs)}
        return [torch.from_numpy(np.asarray(y)) for y in session.run(None, feeds)]
