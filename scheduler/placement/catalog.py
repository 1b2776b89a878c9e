"""Placement policies by name: the online rules and the CP-SAT window built on FGD."""

from __future__ import annotations

from collections.abc import Sequence

from models.placement import Pod
from scheduler.placement.policies import (
    BestFit,
    DotProduct,
    Fgd,
    FirstFit,
    PlacementPolicy,
    TargetWorkload,
    WorstFit,
)
from scheduler.placement.state import ClusterState

ONLINE = ("first-fit", "best-fit", "worst-fit", "dot-product", "fgd")
ALL = (*ONLINE, "cpsat")


def make_policy(
    name: str, workload: Sequence[Pod], state: ClusterState, seed: int = 0
) -> PlacementPolicy:
    """A policy by name; `workload` is the pod list whose mix FGD and CP-SAT aim for."""
    if name == "first-fit":
        return FirstFit()
    if name == "best-fit":
        return BestFit()
    if name == "worst-fit":
        return WorstFit()
    if name == "dot-product":
        return DotProduct()
    if name == "fgd":
        return Fgd(TargetWorkload(workload, state.models))
    if name == "cpsat":
        # ortools loads only when the CP-SAT window is asked for.
        from scheduler.placement.cpsat_policy import CpSatWindow

        return CpSatWindow(Fgd(TargetWorkload(workload, state.models)), seed=seed)
    raise ValueError(f"unknown placement policy {name!r}; known: {', '.join(ALL)}")
