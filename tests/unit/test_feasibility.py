"""The independent feasibility checker and the instance loaders."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from models.scheduling import (
    Alternative,
    Job,
    Objective,
    Operation,
    Resource,
    Schedule,
    ScheduledOperation,
    SchedulingProblem,
    SolveStatus,
)
from scheduler.feasibility import InfeasibleSchedule, assert_feasible, check
from scheduler.instances import (
    load_instance,
    parse_fjsp,
    parse_jobshop,
    problem_from_json,
    problem_to_json,
    random_dag,
)
from scheduler.instances.text_formats import InstanceFormatError
from scheduler.objective import objective_value

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
NO_DATA = "public benchmark data not found at ../shared/data (absent in a fresh clone)"

# Job 0: op0 (m0, 3) then op1 (m1 or m0, 2 / 4); job 1 (release 2): op2 (m0, 2) needs 2 cpu.
# op3 (job 2, m1, 1) needs 2 cpu and must follow op2 (explicit edge). cpu capacity 3.
PROBLEM = SchedulingProblem(
    name="toy",
    num_machines=2,
    jobs=(Job(0, (0, 1)), Job(1, (2,), release=2), Job(2, (3,))),
    operations=(
        Operation(0, 0, (Alternative(0, 3),)),
        Operation(1, 0, (Alternative(1, 2), Alternative(0, 4))),
        Operation(2, 1, (Alternative(0, 2),), demands={"cpu": 2}),
        Operation(3, 2, (Alternative(1, 1),), demands={"cpu": 2}),
    ),
    precedences=((2, 3),),
    resources=(Resource("cpu", 3),),
)
GOOD = (
    ScheduledOperation(0, 0, 0, 3),
    ScheduledOperation(1, 1, 3, 5),
    ScheduledOperation(2, 0, 3, 5),
    ScheduledOperation(3, 1, 5, 6),
)


def schedule(placed: tuple[ScheduledOperation, ...], value: float | None = None) -> Schedule:
    actual = objective_value(PROBLEM, placed) if value is None else value
    return Schedule("toy", "hand", placed, actual, SolveStatus.HEURISTIC)


def with_op(index: int, **changes: int) -> tuple[ScheduledOperation, ...]:
    placed = list(GOOD)
    placed[index] = replace(placed[index], **changes)
    return tuple(placed)


def test_hand_made_schedule_is_feasible() -> None:
    assert check(PROBLEM, schedule(GOOD)) == []
    assert_feasible(PROBLEM, schedule(GOOD))


@pytest.mark.parametrize(
    ("kind", "placed"),
    [
        ("coverage", GOOD[:3]),
        ("coverage", (GOOD[1], GOOD[0], GOOD[2], GOOD[3])),
        ("alternative", with_op(0, machine=1)),
        ("duration", with_op(1, end=6)),
        ("release", with_op(2, start=1, end=3)),
        ("release", (ScheduledOperation(0, 0, -3, 0), *GOOD[1:])),
        ("precedence", with_op(1, start=2, end=4)),  # job order: op1 before op0 ends
        ("precedence", with_op(3, start=4, end=5)),  # explicit edge 2 -> 3
        ("overlap", with_op(1, machine=0, start=3, end=7)),  # op1 on m0 with op2
        ("capacity", with_op(3, start=4, end=5)),  # cpu 2 + 2 > 3 at t=4
    ],
)
def test_each_violation_kind_is_caught(kind: str, placed: tuple[ScheduledOperation, ...]) -> None:
    bad = schedule(placed, value=0.0 if kind == "coverage" else None)
    kinds = {v.kind for v in check(PROBLEM, bad)}
    assert kind in kinds
    with pytest.raises(InfeasibleSchedule) as raised:
        assert_feasible(PROBLEM, bad)
    assert any(v.kind == kind for v in raised.value.violations)


def test_wrong_objective_is_caught_and_can_be_skipped() -> None:
    bad = schedule(GOOD, value=5.0)  # makespan is 6
    assert [v.kind for v in check(PROBLEM, bad)] == ["objective"]
    assert check(PROBLEM, bad, check_objective=False) == []


def test_zero_duration_ops_never_overlap_and_weighted_objectives() -> None:
    ops = (Operation(0, 0, (Alternative(0, 0),)), Operation(1, 1, (Alternative(0, 4),)))
    jobs = (Job(0, (0,), due=0, weight=3.0), Job(1, (1,), due=2, weight=2.0))
    problem = SchedulingProblem("z", 1, jobs, ops, objective=Objective.TOTAL_WEIGHTED_TARDINESS)
    placed = (ScheduledOperation(0, 0, 2, 2), ScheduledOperation(1, 0, 0, 4))
    assert objective_value(problem, placed) == 3.0 * 2 + 2.0 * 2
    assert check(problem, Schedule("z", "hand", placed, 10.0, SolveStatus.HEURISTIC)) == []


def test_tiny_jobshop_and_fjsp_texts_parse() -> None:
    js = parse_jobshop("2 2\n0 3 1 2\n# comment\n1 4 0 1\n", "tiny")
    assert js.is_job_shop and js.num_operations == 4
    assert js.operations[2].alternatives == (Alternative(1, 4),)
    fjsp = parse_fjsp("2 3 1.5\n2 1 1 5 2 2 3 3 4\n1 1 3 7\n", "tinyf")
    assert (len(fjsp.jobs), fjsp.num_machines, fjsp.num_operations) == (2, 3, 3)
    assert fjsp.operations[1].alternatives == (Alternative(1, 3), Alternative(2, 4))
    assert fjsp.operations[2].alternatives == (Alternative(2, 7),)
    assert fjsp.jobs[1].operations == (2,)
    with pytest.raises(InstanceFormatError):
        parse_fjsp("2 3\n2 1 1 5\n", "short")
    with pytest.raises(InstanceFormatError):
        parse_jobshop("1 2\n0 3 5 2\n", "bad machine")


def test_json_round_trip_keeps_the_problem() -> None:
    problem = random_dag(25, 3, seed=7, resources={"cpu": 4, "gpu": 1})
    again = problem_from_json(problem_to_json(problem))
    assert again == problem
    assert problem_from_json(problem_to_json(PROBLEM)) == PROBLEM


@pytest.mark.skipif(not (DATA / "jobshop").is_dir(), reason=NO_DATA)
def test_ft06_loads_with_36_operations() -> None:
    problem = load_instance(DATA / "jobshop" / "instances" / "ft06.txt")
    assert problem.name == "ft06"
    assert (len(problem.jobs), problem.num_machines, problem.num_operations) == (6, 6, 36)
    assert problem.is_job_shop


@pytest.mark.skipif(not (DATA / "fjsp").is_dir(), reason=NO_DATA)
def test_brandimarte_mk01_loads_as_flexible() -> None:
    problem = load_instance(DATA / "fjsp" / "instances" / "mk01.txt")
    assert (len(problem.jobs), problem.num_machines) == (10, 6)
    assert any(len(op.alternatives) > 1 for op in problem.operations)
