"""Dispatching rules, round-robin placement and HEFT over one serial schedule-generation
scheme (`sgs.serial_sgs`), which learned policies drive too."""

from scheduler.rules.heft import heft, upward_ranks
from scheduler.rules.priorities import RULES, Rule, by_key, round_robin, round_robin_machines
from scheduler.rules.sgs import (
    MODES,
    Candidate,
    Choose,
    MachinePick,
    SgsState,
    earliest_completion,
    list_sgs,
    serial_sgs,
    topological_order,
)
from scheduler.rules.solvers import CLASSIC_RULES, best_rule, place, run_rule

__all__ = [
    "CLASSIC_RULES",
    "MODES",
    "RULES",
    "Candidate",
    "Choose",
    "MachinePick",
    "Rule",
    "SgsState",
    "best_rule",
    "by_key",
    "earliest_completion",
    "heft",
    "list_sgs",
    "place",
    "round_robin",
    "round_robin_machines",
    "run_rule",
    "serial_sgs",
    "topological_order",
    "upward_ranks",
]
