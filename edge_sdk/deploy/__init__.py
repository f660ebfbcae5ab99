"""Deployment graphs: encode, one CFG + DDIM step, decode; rewritten for edge runtimes and exportable.

See `DeployGraphs` for the interface every backend and binding builds on, `graph_contract` for the graphs'
names and signatures, `passes` for the rewrites. The names below load on first use, so that reading the
graph contract (as a bundle reader does) does not import torch and the model.
"""

__all__ = ["DeployGraphs", "GRAPH_NAMES", "DDIMSchedule", "ddim_schedule"]


def __getattr__(name):
    if name == "GRAPH_NAMES":
        from edge_sdk.deploy.graph_contract import GRAPH_NAMES

        return GRAPH_NAMES
    if name == "DeployGraphs":
        from edge_sdk.deploy.graphs import DeployGraphs

        return DeployGraphs
    if name in ("DDIMSchedule", "ddim_schedule"):
        from edge_sdk.deploy import schedule

        return getattr(schedule, name)
    raise AttributeError(f"module 'edge_sdk.deploy' has no attribute {name!r}")
