"""A runner's loaded graphs: all three for the runner's lifetime, or one at a time ("in turn").

Loaded in turn, a graph is loaded when it is first run and the graph before it is freed first, so the process
holds one graph's weights and working buffers instead of three. The host loop runs encode, then every step,
then decode, so each inpaint loads each graph once: less memory for some load time per inpaint (the 0.2B
model's numbers are in benchmarks/results/memory_moebius-0.2b.md).
"""
from __future__ import annotations

import gc
from typing import Callable, Generic, TypeVar

from edge_sdk.deploy.graph_contract import GRAPH_NAMES

Graph = TypeVar("Graph")


class LoadedGraphs(Generic[Graph]):
    def __init__(self, load: Callable[[str], Graph], in_turn: bool = False):
        self._load = load
        self.in_turn = in_turn
        self._resident: dict[str, Graph] = {}
        # Every graph is loaded once now, so a bundle its runtime cannot run fails here; in turn, the last one
        # loaded (encode, the first an inpaint runs) stays.
        for name in reversed(GRAPH_NAMES) if in_turn else GRAPH_NAMES:
            self[name]

    def __getitem__(self, name: str) -> Graph:
        if name not in self._resident:
            if self.in_turn and self._resident:
                self._resident.clear()
                gc.collect()  # the runtime's objects may sit in a reference cycle: free them before the next load
            self._resident[name] = self._load(name)
        return self._resident[name]

    @property
    def resident(self) -> list[str]:
        """The names of the graphs in memory now."""
        return list(self._resident)
