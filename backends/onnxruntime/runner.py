"""Running an ONNX bundle with ONNX Runtime: CUDA where the installed build has it, else the CPU provider."""
from __future__ import annotations

import numpy as np
import torch

from edge_sdk.backends.base import Runner


def providers() -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


class OnnxRuntimeRunner(Runner):
    def __init__(self, bundle, threads: int | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.sessions = {
            name: ort.InferenceSession(str(bundle.graph_path(name)), sess_options=options, providers=providers())
            for name in ("encode", "step", "decode")
        }

    def _run(self, name: str, *inputs: torch.Tensor) -> list[torch.Tensor]:
        session = self.sessions[name]
        feeds = {meta.name: np.ascontiguousarray(x.detach().cpu().numpy()) for meta, x in zip(session.get_inputs(), inputs)}
        return [torch.from_numpy(np.asarray(y)) for y in session.run(None, feeds)]

    def encode(self, image, mask):
        return tuple(self._run("encode", image.float(), mask.float()))

    def step(self, x, masked_latents, mask_latent, index):
        return self._run("step", x.float(), masked_latents.float(), mask_latent.float(), index.to(torch.int64).reshape(1))[0]

    def decode(self, latents):
        return self._run("decode", latents.float())[0]
