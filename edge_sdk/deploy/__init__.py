"""Deployment graphs: encode, one CFG + DDIM step, decode; rewritten for edge runtimes and exportable.

See `DeployGraphs` for the interface every backend and binding builds on, `passes` for the rewrites.
"""
from edge_sdk.deploy.graphs import GRAPH_NAMES, DeployGraphs
from edge_sdk.deploy.schedule import DDIMSchedule, ddim_schedule

__all__ = ["DeployGraphs", "GRAPH_NAMES", "DDIMSchedule", "ddim_schedule"]
