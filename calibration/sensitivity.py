"""Which layers int8 hurts, and the mixed-precision choice that meets a final-image target.

Ranking, in two stages (both on the switchable fake-quantized graph, so every number comes from the same
torchao quantizers the recipe is later applied with):

1. Local error, every candidate layer, one pass per sample: with fp32 inputs, the relative error of the
   layer's output when that layer alone is int8 (input, weight and output quantized), and when only its
   weights are (w8). Cheap: two extra calls of each layer's op.
2. ε error, the `epsilon_layers` layers with the largest local error: the step graph run with that layer
   alone in int8, relative error of the guided ε against fp32 over the samples. This is the measure that
   counts (a layer's error may be amplified or damped on its way to ε), but it costs one step-graph run per
   layer and sample, so it is spent where stage 1 points.

Choice: start from every candidate in int8 and evaluate the final image against fp32 (`evaluate`, PSNR
over the whole image). While the target is missed, move layers down in ranked order, most sensitive first:
to w8 (int8 weights, float activations), and if even all-w8 misses, the most sensitive to fp16. Each move
is a prefix of the ranking, found by exponential then binary search (the PSNR is taken to fall as more
layers are quantized), which keeps the most layers in int8 for a few evaluations.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable, Mapping, Optional, Sequence

import torch
from torch.fx import Interpreter, Node

from edge_sdk.calibration.drift import EpsilonFromStep


@dataclasses.dataclass
class LayerSensitivity:
    name: str
    local_int8: float
    local_w8: float
    epsilon_int8: Optional[float] = None  # None when stage 2 did not measure it

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Evaluation:
    """One configuration the search evaluated."""

    fp16: int  # the first `fp16` ranked layers in fp16
    w8: int  # the next ones, up to rank `w8`, in w8; the rest int8
    psnr_db: float
    meets_target: bool

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Choice:
    precisions: dict[str, str]
    psnr_db: float
    meets_target: bool
    evaluations: list[Evaluation]
    budget_exhausted: bool


# --- stage 1: local errors ---------------------------------------------------------------------------


class _LocalErrors(Interpreter):
    """Runs the graph in fp32 and, at each candidate op, also runs it quantized on the same inputs."""

    def __init__(self, graph, parts):
        super().__init__(graph.graph_module)
        self.switchable = graph
        self.parts = {part.op: (name, part) for name, part in parts.items()}
        self.squared = {name: [0.0, 0.0, 0.0] for name in parts}  # int8 error², w8 error², reference²

    def run_node(self, node: Node):
        out = super().run_node(node)
        if node in self.parts:
            name, part = self.parts[node]
            args, kwargs = self.fetch_args_kwargs_from_env(node)
            x, weight, rest = args[0], args[1], args[2:]
            reference = torch.relu(out) if part.relu else out
            quantized_weight = self._quantize(part.weight_quantizer, weight)
            int8 = node.target(self._quantize(part.input_quantizer, x), quantized_weight, *rest, **kwargs)
            int8 = self._quantize(part.output_quantizer, torch.relu(int8) if part.relu else int8)
            w8 = node.target(x, quantized_weight, *rest, **kwargs)
            w8 = torch.relu(w8) if part.relu else w8
            sums = self.squared[name]
            sums[0] += float((int8 - reference).double().pow(2).sum())
            sums[1] += float((w8 - reference).double().pow(2).sum())
            sums[2] += float(reference.double().pow(2).sum())
        return out

    def _quantize(self, target: Optional[str], tensor: torch.Tensor) -> torch.Tensor:
        if target is None:
            return tensor
        module = self.switchable.graph_module.get_submodule(target)
        module.enable_fake_quant(True)
        try:
            return module(tensor)
        finally:
            module.enable_fake_quant(False)


@torch.no_grad()
def local_errors(graph, samples: Sequence[tuple]) -> dict[str, tuple[float, float]]:
    """{layer: (int8 relative error, w8 relative error)} of each layer's own output, fp32 inputs."""
    previous = graph.precisions
    graph.set_precisions({})
    try:
        interpreter = _LocalErrors(graph, {name: graph.layer_parts(name) for name in graph.layers})
        for sample in samples:
            interpreter.run(*sample)
    finally:
        graph.set_precisions({k: v for k, v in previous.items() if v != "fp32"})
    return {name: (_ratio(s[0], s[2]), _ratio(s[1], s[2])) for name, s in interpreter.squared.items()}


# --- stage 2: ε errors ---------------------------------------------------------------------------------


@torch.no_grad()
def epsilon_errors(graph, layers: Sequence[str], samples: Sequence[tuple], schedule, progress=None) -> dict[str, float]:
    """{layer: relative error of the guided ε with only that layer in int8}, pooled over `samples`."""
    epsilon = EpsilonFromStep(schedule)
    previous = graph.precisions
    graph.set_precisions({})
    references = [epsilon(s[0], graph(*s), int(s[3])) for s in samples]
    errors = {}
    try:
        for name in layers:
            graph.set_precisions({name: "int8"})
            squared = reference = 0.0
            for sample, expected in zip(samples, references):
                got = epsilon(sample[0], graph(*sample), int(sample[3]))
                squared += float((got - expected).pow(2).sum())
                reference += float(expected.pow(2).sum())
            errors[name] = _ratio(squared, reference)
            if progress is not None:
                progress(1)
    finally:
        graph.set_precisions({k: v for k, v in previous.items() if v != "fp32"})
    return errors


def rank_layers(local: Mapping[str, tuple[float, float]], epsilon: Mapping[str, float]) -> list[LayerSensitivity]:
    """Most sensitive first: layers with a measured ε error by it, then the rest by local int8 error."""
    rows = [LayerSensitivity(name, lo[0], lo[1], epsilon.get(name)) for name, lo in local.items()]
    measured = sorted((r for r in rows if r.epsilon_int8 is not None), key=lambda r: -r.epsilon_int8)
    others = sorted((r for r in rows if r.epsilon_int8 is None), key=lambda r: -r.local_int8)
    return measured + others


def pick_epsilon_layers(local: Mapping[str, tuple[float, float]], count: int) -> list[str]:
    """The `count` layers with the largest local int8 error (stage 2 measures these)."""
    return [name for name, _ in sorted(local.items(), key=lambda item: -item[1][0])[: max(0, count)]]


# --- the choice ------------------------------------------------------------------------------------------


def configuration(order: Sequence[str], fp16: int, w8: int) -> dict[str, str]:
    """Ranked layers [0, fp16) in fp16, [fp16, w8) in w8, the rest int8."""
    return {name: ("fp16" if rank < fp16 else "w8" if rank < w8 else "int8") for rank, name in enumerate(order)}


def choose_precisions(
    order: Sequence[str],
    evaluate: Callable[[dict[str, str]], float],
    target_psnr_db: float,
    max_evaluations: int = 16,
) -> Choice:
    """The configuration with the most int8 layers (as prefixes of `order`) whose PSNR meets the target."""
    n = len(order)
    evaluations: list[Evaluation] = []
    seen: dict[tuple[int, int], float] = {}

    def meets(fp16: int, w8: int) -> bool:
        key = (fp16, w8)
        if key not in seen:
            if len(evaluations) >= max_evaluations:
                raise _OutOfBudget
            psnr = float(evaluate(configuration(order, fp16, w8)))
            seen[key] = psnr
            evaluations.append(Evaluation(fp16, w8, psnr, psnr >= target_psnr_db))
        return seen[key] >= target_psnr_db

    exhausted = False
    try:
        if meets(0, 0):
            best = (0, 0)
        else:
            w8 = _smallest(lambda k: meets(0, k), 1, n)
            if w8 is not None:
                best = (0, w8)
            else:
                fp16 = _smallest(lambda k: meets(k, n), 1, n)
                if fp16 is None:
                    best = None
                else:
                    w8 = _smallest(lambda k: meets(fp16, k), fp16, n)
                    best = (fp16, w8 if w8 is not None else n)
    except _OutOfBudget:
        exhausted = True
        passing = [key for key, psnr in seen.items() if psnr >= target_psnr_db]
        # The passing configuration with the fewest demoted layers, else none.
        best = min(passing, key=lambda key: (key[1], key[0])) if passing else None
    if best is None:
        # Nothing evaluated meets the target: keep the most precise configuration that was evaluated.
        best = max(seen, key=lambda key: seen[key])
    return Choice(
        precisions=configuration(order, *best),
        psnr_db=seen[best],
        meets_target=seen[best] >= target_psnr_db,
        evaluations=evaluations,
        budget_exhausted=exhausted,
    )


class _OutOfBudget(Exception):
    pass


def _smallest(predicate: Callable[[int], bool], low: int, high: int) -> Optional[int]:
    """Smallest k in [low, high] with predicate(k) true, for a predicate false below some k and true from
    it on; None when predicate(high) is false. Exponential steps from `low`, then bisection."""
    if low > high:
        return None
    step, last_false, k = 1, low - 1, low
    while True:
        if predicate(k):
            break
        last_false = k
        if k == high:
            return None
        k = min(high, low + step)
        step *= 2
    lo, hi = last_false, k  # predicate(lo) false (or lo = low − 1), predicate(hi) true
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if predicate(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _ratio(squared: float, reference: float) -> float:
    if reference == 0.0:
        return 0.0 if squared == 0.0 else math.inf
    return math.sqrt(squared / reference)
