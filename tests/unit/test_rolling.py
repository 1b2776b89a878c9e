"""Rolling-horizon plans around running work: machine ready times and operation releases in
the problem model, every batch scheduler respecting them, and the live problem's slots."""

from __future__ import annotations

from dataclasses import replace

import pytest

from controlplane.engine.planning.planbook import PlanBook
from models.scheduling import (
    Alternative,
    Job,
    Operation,
    Schedule,
    ScheduledOperation,
    SchedulingProblem,
    SolveStatus,
)
from scheduler import registry
from scheduler.feasibility import check
from scheduler.instances import problem_from_json, problem_to_json
from scheduler.instances.generators import random_dag, random_fjsp, random_jobshop
from scheduler.rolling import (
    MAX_SLOTS_PER_REPLICA,
    OVERDUE_REMAINING_MS,
    PlanSlot,
    PlanTask,
    RunningAttempt,
    build_problem,
    read_plan,
    replica_slots,
    slot_ready_times,
    time_left_ms,
)

SOLVERS = registry.names()
PLANNERS = ("cpsat", "ga", "ml", "mwkr", "heft")  # what a namespace's batch_scheduler can be


def _solve(problem: SchedulingProblem, name: str) -> Schedule:
    options = {"generations": 15, "patience": 10} if name == "ga" else {}
    return registry.solve(problem, name, time_limit_s=1.0, seed=0, options=options)


def _busy(problem: SchedulingProblem) -> SchedulingProblem:
    """`problem` with machine 0 busy long enough to matter and one op released late."""
    ready = tuple(60 if m == 0 else 5 * m for m in range(problem.num_machines))
    ops = list(problem.operations)
    ops[-1] = replace(ops[-1], release=40)
    return replace(problem, machine_ready=ready, operations=tuple(ops))


def _assert_respects_ready(problem: SchedulingProblem, schedule: Schedule) -> None:
    for item in schedule.operations:
        assert item.start >= problem.ready_of(item.machine)
        assert item.start >= problem.release_of(item.operation)
    assert check(problem, schedule) == []


# -- the model and the checker ------------------------------------------------------------


def test_checker_catches_a_start_before_the_machine_is_ready_or_the_op_released() -> None:
    problem = SchedulingProblem(
        "ready",
        2,
        (Job(0, (0,)), Job(1, (1,))),
        (
            Operation(0, 0, (Alternative(0, 3), Alternative(1, 3))),
            Operation(1, 1, (Alternative(1, 2),), release=4),
        ),
        machine_ready=(5,),  # machine 1 is not listed: ready at 0
    )
    assert (problem.ready_of(0), problem.ready_of(1), problem.release_of(1)) == (5, 0, 4)

    def kinds(*placed: ScheduledOperation) -> set[str]:
        schedule = Schedule("ready", "hand", placed, 0.0, SolveStatus.HEURISTIC)
        return {v.kind for v in check(problem, schedule, check_objective=False)}

    assert kinds(ScheduledOperation(0, 0, 5, 8), ScheduledOperation(1, 1, 4, 6)) == set()
    assert kinds(ScheduledOperation(0, 0, 4, 7), ScheduledOperation(1, 1, 4, 6)) == {
        "machine_ready"
    }
    assert kinds(ScheduledOperation(0, 1, 0, 3), ScheduledOperation(1, 1, 3, 5)) == {"release"}


def test_json_round_trip_keeps_ready_times_and_releases() -> None:
    problem = _busy(random_dag(12, 3, seed=4))
    assert problem_from_json(problem_to_json(problem)) == problem
    plain = random_dag(12, 3, seed=4)
    assert "machine_ready" not in problem_to_json(plain)  # old files stay as they were


# -- every scheduler respects them ---------------------------------------------------------


@pytest.mark.parametrize("name", SOLVERS)
@pytest.mark.parametrize(
    "problem",
    [
        _busy(random_jobshop(4, 3, seed=1, high=20)),
        _busy(random_fjsp(4, 3, seed=2)),
        _busy(random_dag(20, 3, seed=3, resources={"cpu": 3})),
    ],
    ids=["jobshop", "fjsp", "dag"],
)
def test_every_scheduler_respects_machine_ready_and_release(
    name: str, problem: SchedulingProblem
) -> None:
    _assert_respects_ready(problem, _solve(problem, name))


@pytest.mark.parametrize("mode", ["active", "non_delay", "gt"])
def test_sgs_modes_respect_machine_ready(mode: str) -> None:
    problem = _busy(random_fjsp(4, 3, seed=5))
    for rule in ("spt", "heft", "rr"):
        schedule = registry.solve(problem, rule, 1.0, 0, options={"mode": mode})
        _assert_respects_ready(problem, schedule)


def test_ready_times_default_to_zero_and_change_nothing_when_zero() -> None:
    problem = random_fjsp(4, 3, seed=6)
    zero = replace(problem, machine_ready=(0, 0, 0))
    for name in ("mwkr", "heft", "ga"):
        assert _solve(problem, name).operations == _solve(zero, name).operations


# -- live problems -------------------------------------------------------------------------


def test_a_replica_with_max_concurrency_three_gives_three_slots_on_its_node() -> None:
    slots = replica_slots("work", "w0", "n1", 3)
    assert [s.slot for s in slots] == [0, 1, 2]
    assert {s.node for s in slots} == {"n1"} and len({s.name for s in slots}) == 3
    assert len(replica_slots("work", "w0", "n1", 100)) == MAX_SLOTS_PER_REPLICA
    assert len(replica_slots("work", "w0", "n1", 0)) == 1
    live = build_problem("live", [PlanTask("e", "t", "work", 100, ready=True)], slots)
    assert live is not None and live.problem.num_machines == 3
    plan = read_plan(live, registry.solve(live.problem, "cpsat", 1.0, 0))
    assert plan["e", "t"].node == "n1"


def test_time_left_of_a_running_attempt() -> None:
    assert time_left_ms(1.0, 3.0) == 2000
    assert time_left_ms(5.0, 3.0) == OVERDUE_REMAINING_MS  # overdue: ends any moment
    assert time_left_ms(0.0, 0.0) == OVERDUE_REMAINING_MS


def test_running_attempts_hold_slots_on_their_node_longest_first() -> None:
    slots = [*replica_slots("work", "w0", "n1", 2), PlanSlot("work", "w1", "n2")]

    def attempt(task: str, node: str, left: int, agent: str = "work") -> RunningAttempt:
        return RunningAttempt("e", task, agent, node, left)

    assert slot_ready_times(slots, []) == (0, 0, 0)
    # Two on n1 take both of its slots; one on n2 its slot; another agent's is ignored.
    running = [attempt("a", "n1", 300), attempt("b", "n1", 500), attempt("c", "n2", 200)]
    ready = slot_ready_times(slots, [*running, attempt("x", "n1", 9000, agent="other")])
    assert ready == (500, 300, 200)
    # A third on n1 waits for the slot that frees first; an unknown node takes any slot.
    assert slot_ready_times(
        slots, [attempt("a", "n1", 300), attempt("b", "n1", 500), attempt("c", "n1", 100)]
    ) == (500, 400, 0)
    assert slot_ready_times(slots, [attempt("a", "", 300)]) == (300, 0, 0)


def test_a_busy_slot_delays_new_work_and_a_free_slot_is_preferred() -> None:
    slots = [PlanSlot("work", "w0", "n1"), PlanSlot("work", "w1", "n2")]
    busy_n1 = [RunningAttempt("e0", "r", "work", "n1", 5000)]
    tasks = [PlanTask("e1", "a", "work", 1000, ready=True)]
    live = build_problem("live", tasks, slots, busy_n1)
    assert live is not None and live.problem.machine_ready == (5000, 0)
    assert live.running == tuple(busy_n1)
    for name in PLANNERS:
        plan = read_plan(live, registry.solve(live.problem, name, 1.0, 0))
        assert (plan["e1", "a"].node, plan["e1", "a"].start) == ("n2", 0), name

    # Both slots busy: the new task starts when the first one frees, there.
    both = [*busy_n1, RunningAttempt("e0", "s", "work", "n2", 3000)]
    live = build_problem("live", tasks, slots, both)
    assert live is not None
    for name in PLANNERS:
        plan = read_plan(live, registry.solve(live.problem, name, 1.0, 0))
        assert (plan["e1", "a"].node, plan["e1", "a"].start) == ("n2", 3000), name


def test_plan_keeps_dependency_edges_and_waits_for_running_dependencies() -> None:
    slots = [*replica_slots("work", "w0", "n1", 2), PlanSlot("work", "w1", "n2")]
    running = [RunningAttempt("e1", "a", "work", "n1", 2500)]
    tasks = [
        PlanTask("e1", "b", "work", 400, ready=True),
        PlanTask("e1", "c", "work", 300, depends_on=("a", "b")),  # a runs, b is planned
        PlanTask("e1", "d", "work", 200, depends_on=("c",)),
        PlanTask("e2", "x", "work", 1000, ready=True),
    ]
    live = build_problem("live", tasks, slots, running)
    assert live is not None
    by_id = {t.task_id: i for i, t in enumerate(live.tasks)}
    assert live.problem.operations[by_id["c"]].release == 2500
    assert live.problem.operations[by_id["b"]].release == 0
    for name in PLANNERS:
        plan = read_plan(live, registry.solve(live.problem, name, 1.0, 0))
        c, d = plan["e1", "c"], plan["e1", "d"]
        assert c.start >= max(2500, plan["e1", "b"].end), name
        assert d.start >= c.end, name
        assert {p.node for p in plan.values()} <= {"n1", "n2"}


def test_durations_are_learned_per_task_falling_back_to_the_agent() -> None:
    book = PlanBook()
    assert book.expected_duration_s("work", "build", 1.0) == 1.0
    book.observe_duration("work", 4.0, "build")
    book.observe_duration("work", 2.0, "test")
    assert book.expected_duration_s("work", "build", 1.0) == 4.0
    assert book.expected_duration_s("work", "test", 1.0) == 2.0
    assert book.expected_duration_s("work", "deploy", 1.0) == pytest.approx(0.7 * 4 + 0.3 * 2)
    assert book.durations["work"] == pytest.approx(3.4)
