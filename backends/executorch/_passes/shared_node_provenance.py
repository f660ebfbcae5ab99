"""Node provenance shared instead of deep-copied while a program is lowered: the same `.pte`, sooner.

torch.fx records where each node came from (`node.meta["from_node"]`, a chain of `NodeSource`). Every pass
that re-traces a graph gives each node it emits a new `NodeSource` holding a deep copy of the old node's
whole chain, so the copying grows with the number of passes times the chain's length: about 15% of
`to_edge_transform_and_lower` on the tiny step graph (docs/architecture.md, "Export time"). A recorded chain
is never modified afterwards, so a new list holding the same `NodeSource` objects records the same history:
ExecuTorch's debug handles (each node's oldest ancestor) and the `.pte` stay byte for byte the same.
"""
from __future__ import annotations

import contextlib

from torch.fx.traceback import NodeSource


@contextlib.contextmanager
def shared_node_provenance():
    """Within the block, a new NodeSource shares its node's recorded history; torch's own init is back after."""
    stock = NodeSource.__init__

    def init_sharing_history(self, node, pass_name: str = "", action=None) -> None:
        history = node.meta.pop("from_node", None) if node is not None else None
        try:
            stock(self, node, pass_name, action)  # sees no history, so copies none
        finally:
            if history is not None:
                node.meta["from_node"] = history
                self.from_node = list(history)

    NodeSource.__init__ = init_sharing_history
    try:
        yield
    finally:
        NodeSource.__init__ = stock
