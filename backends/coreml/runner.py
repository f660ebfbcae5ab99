"""Running a Core ML bundle: only on macOS, where coremltools can load and predict with ML programs."""
from __future__ import annotations

import sys

import numpy as np
import torch

from edge_sdk.backends.base import Runner
from edge_sdk.backends.loaded_graphs import LoadedGraphs
from edge_sdk.deploy.graph_contract import GRAPH_NAMES
from edge_sdk.errors import BackendUnavailableError


class CoreMLRunner(Runner):
    """coremltools prediction (macOS 15+ for these iOS 18 ML programs). Not exercised on the Linux CI."""

    index_dtype = torch.int32  # Core ML programs take no int64 inputs

    def __init__(self, bundle, load_in_turn: bool = False):
        if sys.platform != "darwin":
            raise BackendUnavailableError(
                "Core ML bundles run only on macOS or iOS: coremltools loads and predicts with ML programs on macOS "
                "alone ('Model prediction is only supported on macOS'); here they can be exported and inspected "
                "(`moebius-edge info`, `verify --hashes-only`)"
            )
        import coremltools as ct

        self.models = LoadedGraphs(lambda name: ct.models.MLModel(str(bundle.graph_path(name))), in_turn=load_in_turn)
        self.inputs = {name: [spec["name"] for spec in bundle.manifest.graphs[name]["inputs"]] for name in GRAPH_NAMES}
        self.outputs = {name: [spec["name"] for spec in bundle.manifest.graphs[name]["outputs"]] for name in GRAPH_NAMES}

    def run(self, name, *tensors):
        feeds = {key: np.ascontiguousarray(t.detach().cpu().numpy()) for key, t in zip(self.inputs[name], tensors)}
        result = self.models[name].predict(feeds)
        return [torch.from_numpy(np.asarray(result[key], dtype=np.float32)) for key in self.outputs[name]]
