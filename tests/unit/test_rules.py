"""Dispatching rules, round-robin and HEFT over the serial SGS."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from models.scheduling import (
    Alternative,
    Job,
    Objective,
    Operation,
    Resource,
    SchedulingProblem,
    SolverConfig,
    SolveStatus,
)
from scheduler.context import SolveContext
from scheduler.feasibility import assert_feasible
from scheduler.instances import load_instance, random_dag, random_fjsp, random_jobshop
from scheduler.registry import RULES as REGISTRY_RULES
from scheduler.registry import get, solve
from scheduler.rules import (
    Candidate,
    SgsState,
    best_rule,
    by_key,
    list_sgs,
    place,
    serial_sgs,
    upward_ranks,
)

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
NO_DATA = "public benchmark data not found at ../shared/data (absent in a fresh clone)"

INSTANCES = {
    "jobshop": random_jobshop(6, 4, seed=1),
    "fjsp": random_fjsp(6, 4, seed=2, max_alternatives=3),
    "dag": random_dag(40, 3, seed=3, resources={"cpu": 6, "gpu": 2}),
    "dag-twt": random_dag(
        30, 3, seed=4, resources={"cpu": 4}, objective=Objective.TOTAL_WEIGHTED_TARDINESS
    ),
}


def ctx(**options: object) -> SolveContext:
    return SolveContext(SolverConfig(options=dict(options)))


def single_machine(durations: Sequence[int], dues: Sequence[int | None] = ()) -> SchedulingProblem:
    dues = list(dues) or [None] * len(durations)
    ops = tuple(Operation(i, i, (Alternative(0, d),)) for i, d in enumerate(durations))
    jobs = tuple(Job(i, (i,), due=dues[i]) for i in range(len(durations)))
    return SchedulingProblem("single", 1, jobs, ops, objective=Objective.TOTAL_WEIGHTED_COMPLETION)


@pytest.mark.parametrize("rule", REGISTRY_RULES)
@pytest.mark.parametrize("kind", list(INSTANCES))
@pytest.mark.parametrize("mode", ["active", "non_delay", "gt"])
def test_every_rule_is_feasible(rule: str, kind: str, mode: str) -> None:
    problem = INSTANCES[kind]
    schedule = solve(problem, rule, options={"mode": mode})  # the registry checks feasibility
    assert_feasible(problem, schedule)
    assert schedule.status is SolveStatus.HEURISTIC
    assert schedule.solver == rule
    assert schedule.info == {"rule": rule, "mode": mode}


@pytest.mark.parametrize("rule", REGISTRY_RULES)
def test_rules_are_deterministic(rule: str) -> None:
    for problem in INSTANCES.values():
        first = get(rule)(problem, ctx())
        second = get(rule)(problem, ctx())
        assert first.operations == second.operations
        assert first.objective_value == second.objective_value


def test_spt_minimises_total_completion_on_one_machine() -> None:
    problem = single_machine([5, 2, 9, 1, 3])
    schedule = solve(problem, "spt")
    order = sorted(range(5), key=lambda i: schedule.operations[i].start)
    assert order == [3, 1, 4, 0, 2]
    assert schedule.objective_value == 1 + 3 + 6 + 11 + 20
    lpt = solve(problem, "lpt")
    assert sorted(range(5), key=lambda i: lpt.operations[i].start) == [2, 0, 4, 1, 3]


def test_edf_orders_by_due_date_and_wspt_by_ratio() -> None:
    problem = single_machine([4, 4, 4, 4], dues=[30, 10, None, 20])
    schedule = solve(problem, "edf")
    assert sorted(range(4), key=lambda i: schedule.operations[i].start) == [1, 3, 0, 2]
    ops = tuple(Operation(i, i, (Alternative(0, d),)) for i, d in enumerate([4, 2, 3]))
    jobs = tuple(Job(i, (i,), weight=w) for i, w in enumerate([8.0, 1.0, 9.0]))
    weighted = SchedulingProblem("w", 1, jobs, ops, objective=Objective.TOTAL_WEIGHTED_COMPLETION)
    wspt = solve(weighted, "wspt")  # ratios 2, 0.5, 3
    assert sorted(range(3), key=lambda i: wspt.operations[i].start) == [2, 0, 1]


def test_flexible_ops_go_to_earliest_completion_and_insert_into_gaps() -> None:
    # op0 (job 0) runs 0-10 on machine 0; op1 must follow op0 (job order) on machine 1;
    # op2 can run on machine 0 (3) or 1 (2): machine 1 is idle until 10, so it goes there at 0.
    ops = (
        Operation(0, 0, (Alternative(0, 10),)),
        Operation(1, 0, (Alternative(1, 5),)),
        Operation(2, 1, (Alternative(0, 3), Alternative(1, 2))),
    )
    jobs = (Job(0, (0, 1)), Job(1, (2,), release=1))
    problem = SchedulingProblem("gap", 2, jobs, ops)
    placed = serial_sgs(problem, by_key(lambda c: (c.op,)))  # op order 0, 1, 2
    assert placed[1].start == 10
    assert (placed[2].machine, placed[2].start) == (1, 1)  # inserted before op1, after release


def test_resource_profile_delays_until_demand_fits() -> None:
    ops = tuple(
        Operation(i, i, (Alternative(i, d),), demands={"gpu": g})
        for i, (d, g) in enumerate([(5, 2), (3, 1), (4, 2)])
    )
    jobs = tuple(Job(i, (i,)) for i in range(3))
    problem = SchedulingProblem("res", 3, jobs, ops, resources=(Resource("gpu", 3),))
    placed = serial_sgs(problem, by_key(lambda c: (c.op,)))
    assert [(p.start, p.end) for p in placed] == [(0, 5), (0, 3), (5, 9)]
    too_big = SchedulingProblem("big", 3, jobs, ops, resources=(Resource("gpu", 1),))
    with pytest.raises(ValueError, match="capacity"):
        serial_sgs(too_big, by_key(lambda c: (c.op,)))


def test_non_delay_offers_only_earliest_starting_candidates() -> None:
    problem = INSTANCES["fjsp"]
    seen: list[tuple[int, list[int]]] = []

    def choose(state: SgsState, candidates: Sequence[Candidate]) -> int:
        seen.append((state.time, [c.start for c in candidates]))
        return len(candidates) - 1

    placed = serial_sgs(problem, choose, mode="non_delay")
    assert len(placed) == problem.num_operations
    assert all(set(starts) == {time} for time, starts in seen)


def test_candidates_form_a_numeric_feature_matrix_and_state_is_consistent() -> None:
    problem = INSTANCES["dag"]
    weights = np.linspace(-1.0, 1.0, len(Candidate._fields))

    def choose(state: SgsState, candidates: Sequence[Candidate]) -> int:
        features = np.nan_to_num(np.asarray(candidates, dtype=float), posinf=1e6)
        assert features.shape == (len(candidates), len(Candidate._fields))
        assert state.step == sum(p is not None for p in state.placed)
        for c in candidates:
            assert c.end == c.start + c.duration >= c.ready + c.duration
            assert c.job_remaining_ops >= 1
        return int(np.argmax(features @ weights))

    placed = serial_sgs(problem, choose, expand_machines=True)
    assert len(placed) == problem.num_operations


def test_bad_choice_and_bad_mode_raise() -> None:
    problem = INSTANCES["jobshop"]
    with pytest.raises(IndexError):
        serial_sgs(problem, lambda state, candidates: len(candidates))
    with pytest.raises(ValueError, match="mode"):
        serial_sgs(problem, by_key(lambda c: (c.op,)), mode="bogus")
    with pytest.raises(ValueError, match="mode"):
        solve(problem, "spt", options={"mode": "bogus"})


@pytest.mark.parametrize("kind", list(INSTANCES))
def test_static_list_path_matches_generic_sgs(kind: str) -> None:
    problem = INSTANCES[kind]
    rank = upward_ranks(problem)
    fast = list_sgs(problem, [-r for r in rank])
    generic = serial_sgs(problem, by_key(lambda c: (-rank[c.op], c.topo_index)), "active")
    assert fast == generic


def test_heft_ranks_follow_the_dag() -> None:
    problem = INSTANCES["dag"]
    rank = upward_ranks(problem)
    for before, after in problem.precedences:
        assert rank[before] > rank[after]


def test_round_robin_cycles_machines() -> None:
    ops = tuple(Operation(i, i, tuple(Alternative(m, 1) for m in range(3))) for i in range(6))
    problem = SchedulingProblem("rr", 3, tuple(Job(i, (i,)) for i in range(6)), ops)
    for mode in ("active", "non_delay"):
        assert [p.machine for p in place(problem, "rr", mode)] == [0, 1, 2, 0, 1, 2]


def test_best_rule_returns_the_best_tried() -> None:
    problem = INSTANCES["fjsp"]
    best = best_rule(problem, ctx())
    assert_feasible(problem, best)
    assert best.solver == "best_rule"
    assert best.objective_value == min(best.info["tried"].values())
    assert len(best.info["tried"]) == 9
    both = best_rule(problem, ctx(modes=["active", "non_delay"], rules=["spt", "mwkr"]))
    assert set(both.info["tried"]) == {
        "spt/active",
        "spt/non_delay",
        "mwkr/active",
        "mwkr/non_delay",
    }


@pytest.mark.skipif(not (DATA / "jobshop").is_dir(), reason=NO_DATA)
def test_ft06_every_rule_feasible_and_not_below_optimum() -> None:
    problem = load_instance(DATA / "jobshop" / "instances" / "ft06.txt")
    for rule in REGISTRY_RULES:
        for mode in ("active", "non_delay"):
            schedule = solve(problem, rule, options={"mode": mode})
            assert schedule.makespan >= 55, (rule, mode)
    assert best_rule(problem, ctx()).makespan <= 70
