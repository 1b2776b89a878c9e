"""GPU placement: cluster state, online policies (first/best/worst-fit, dot-product, FGD), a
CP-SAT window policy, an independent checker and the trace replay. Pure: no Ray, gRPC or I/O."""

from scheduler.placement.catalog import ALL, ONLINE, make_policy
from scheduler.placement.policies import PlacementPolicy
from scheduler.placement.replay import LOADS, ReplayResult, replay, sample_arrivals
from scheduler.placement.state import ClusterState, Decision, check_placements

__all__ = [
    "ALL",
    "LOADS",
    "ONLINE",
    "ClusterState",
    "Decision",
    "PlacementPolicy",
    "ReplayResult",
    "check_placements",
    "make_policy",
    "replay",
    "sample_arrivals",
]
