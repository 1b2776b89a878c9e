"""Genetic algorithm: feasibility, determinism, optimality on tiny instances, operators."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from models.scheduling import (
    Alternative,
    Job,
    Objective,
    Operation,
    SchedulingProblem,
    SolverConfig,
)
from scheduler.context import SolveContext
from scheduler.feasibility import assert_feasible
from scheduler.ga.decode import decode
from scheduler.ga.encoding import compile_problem, encode_order, random_population
from scheduler.ga.local_search import improve
from scheduler.ga.operators import (
    insert_mutation,
    machine_mutation,
    pox,
    swap_mutation,
    tournament,
    uniform,
)
from scheduler.ga.solver import solve_ga
from scheduler.instances import random_dag, random_fjsp, random_jobshop
from scheduler.registry import solve

FAST = {"generations": 5, "population": 10, "ls_iterations": 60}


def _run(problem: SchedulingProblem, seed: int = 0, **options: object):
    return solve(problem, "ga", time_limit_s=60.0, seed=seed, options={**FAST, **options})


@pytest.mark.parametrize(
    "problem",
    [
        random_jobshop(6, 4, seed=1),
        random_fjsp(5, 4, seed=2),
        random_dag(25, 3, seed=3, resources={"cpu": 8, "gpu": 2}),
        random_dag(30, 3, seed=6, edge_probability=0.3),
        random_dag(20, 3, seed=4, objective=Objective.TOTAL_WEIGHTED_TARDINESS),
        random_dag(
            20, 3, seed=5, resources={"cpu": 6}, objective=Objective.TOTAL_WEIGHTED_COMPLETION
        ),
    ],
    ids=["jobshop", "fjsp", "dag-resources", "dag-makespan", "dag-tardiness", "dag-completion"],
)
def test_feasible(problem: SchedulingProblem) -> None:
    schedule = _run(problem)
    assert_feasible(problem, schedule)  # solve() checks too; keep the intent explicit
    assert schedule.solver == "ga"
    assert schedule.info["generations"] <= FAST["generations"]
    assert schedule.info["evaluations"] > 0


def test_decoded_random_individuals_are_feasible() -> None:
    for problem in (random_fjsp(4, 3, seed=7), random_dag(15, 2, seed=8, resources={"r": 4})):
        cp = compile_problem(problem)
        seqs, assigns = random_population(cp, 20, np.random.default_rng(0))
        for seq, assign in zip(seqs, assigns, strict=True):
            decoded = decode(cp, seq, assign)
            schedule = _as_schedule(problem, decoded)
            assert_feasible(problem, schedule)


def _as_schedule(problem: SchedulingProblem, decoded):  # type: ignore[no-untyped-def]
    from models.scheduling import Schedule, ScheduledOperation, SolveStatus
    from scheduler.objective import objective_value

    placed = tuple(
        ScheduledOperation(
            o, decoded.machines[o], decoded.starts[o], decoded.starts[o] + decoded.durations[o]
        )
        for o in range(problem.num_operations)
    )
    return Schedule(
        problem.name, "test", placed, objective_value(problem, placed), SolveStatus.HEURISTIC
    )


def test_deterministic_per_seed() -> None:
    for problem in (random_jobshop(8, 5, seed=11), random_fjsp(6, 4, seed=12)):
        first = _run(problem, seed=3)
        second = _run(problem, seed=3)
        assert first.operations == second.operations
        assert first.info["best_by_generation"] == second.info["best_by_generation"]


def test_fixed_budget_ignores_clock_speed() -> None:
    problem = random_jobshop(6, 4, seed=13)
    options = {**FAST, "patience": 10**6}
    ticks = iter(range(10**9))
    fast = SolveContext(SolverConfig(time_limit_s=1e9, seed=1, options=options))
    slow = SolveContext(
        SolverConfig(time_limit_s=1e9, seed=1, options=options),
        clock=lambda: float(next(ticks)) * 1000.0,
    )
    assert solve_ga(problem, fast).operations == solve_ga(problem, slow).operations


def test_different_seeds_can_differ() -> None:
    problem = random_jobshop(10, 5, seed=14)
    options = {"generations": 1, "population": 4, "local_search": False}
    results = {_run(problem, seed=s, **options).operations for s in range(5)}
    assert len(results) > 1


def test_stops_at_time_limit() -> None:
    problem = random_jobshop(10, 5, seed=15)
    schedule = solve(problem, "ga", time_limit_s=0.0, options={"population": 6})
    assert schedule.info["generations"] == 0
    assert schedule.info["stop"] in {"time_limit", "lower_bound"}


def _brute_force_makespan(problem: SchedulingProblem) -> int:
    """Tries every order of operations on every machine (semi-active schedules)."""
    ops = problem.operations
    by_machine: dict[int, list[int]] = {}
    for op in ops:
        by_machine.setdefault(op.alternatives[0].machine, []).append(op.id)
    preds = problem.predecessors()
    best = None
    for orders in itertools.product(*(itertools.permutations(v) for v in by_machine.values())):
        machine_pred = {}
        for order in orders:
            for a, b in itertools.pairwise(order):
                machine_pred[b] = a
        end: dict[int, int] = {}
        progress = True
        while progress and len(end) < len(ops):
            progress = False
            for op in ops:
                deps = [*preds[op.id]] + ([machine_pred[op.id]] if op.id in machine_pred else [])
                if op.id not in end and all(d in end for d in deps):
                    start = max([problem.jobs[op.job].release] + [end[d] for d in deps])
                    end[op.id] = start + op.alternatives[0].duration
                    progress = True
        if len(end) == len(ops):
            makespan = max(end.values())
            best = makespan if best is None else min(best, makespan)
    assert best is not None
    return best


def test_optimal_on_tiny_instances() -> None:
    for seed in range(3):
        problem = random_jobshop(3, 3, seed=20 + seed, high=9)
        schedule = solve(
            problem,
            "ga",
            time_limit_s=60.0,
            seed=seed,
            options={"generations": 30, "population": 12},
        )
        assert schedule.objective_value == _brute_force_makespan(problem)


def test_ft06_like_hand_instance_optimal() -> None:
    # 2 jobs x 2 machines, crossing routes: the optimum interleaves them (makespan 7).
    ops = (
        Operation(0, 0, (Alternative(0, 3),)),
        Operation(1, 0, (Alternative(1, 4),)),
        Operation(2, 1, (Alternative(1, 2),)),
        Operation(3, 1, (Alternative(0, 2),)),
    )
    problem = SchedulingProblem("cross", 2, (Job(0, (0, 1)), Job(1, (2, 3))), ops)
    schedule = _run(problem)
    assert schedule.objective_value == _brute_force_makespan(problem) == 7


def test_local_search_never_worsens() -> None:
    rng = np.random.default_rng(5)
    for problem in (random_jobshop(8, 5, seed=30), random_fjsp(6, 4, seed=31)):
        cp = compile_problem(problem)
        seqs, assigns = random_population(cp, 6, rng)
        for seq, assign in zip(seqs, assigns, strict=True):
            before = decode(cp, seq, assign)
            new_seq, new_assign, after = improve(cp, seq, assign, before, 100, rng)
            assert after.objective <= before.objective
            assert sorted(new_seq.tolist()) == cp.base_seq.tolist()
            assert decode(cp, new_seq, new_assign).objective == after.objective
            assert_feasible(problem, _as_schedule(problem, after))


def test_reencoding_by_start_times_does_not_worsen() -> None:
    problem = random_jobshop(7, 4, seed=32)
    cp = compile_problem(problem)
    seqs, assigns = random_population(cp, 10, np.random.default_rng(2))
    for seq, assign in zip(seqs, assigns, strict=True):
        decoded = decode(cp, seq, assign)
        again = decode(cp, encode_order(cp, decoded.starts), assign)
        assert again.starts == decoded.starts


def test_operators_preserve_multisets() -> None:
    problem = random_fjsp(7, 4, seed=40, ops_per_job=5)
    cp = compile_problem(problem)
    rng = np.random.default_rng(0)
    seqs, assigns = random_population(cp, 30, rng)
    base = cp.base_seq.tolist()
    children = pox(seqs[:15], seqs[15:], cp.n_jobs, rng)
    swap_mutation(children, 1.0, rng)
    insert_mutation(children, 1.0, rng)
    for row in children:
        assert sorted(row.tolist()) == base
    machines = uniform(assigns[:15], assigns[15:], rng)
    machine_mutation(machines, cp.n_alts, cp.flexible, 0.5, rng)
    assert np.all(machines >= 0)
    assert np.all(machines < cp.n_alts[None, :])
    winners = tournament(np.arange(30, dtype=float), 50, 3, rng)
    assert winners.shape == (50,)
    assert np.all((winners >= 0) & (winners < 30))


def test_pox_keeps_the_chosen_jobs_positions() -> None:
    rng = np.random.default_rng(1)
    first = np.array([[0, 1, 0, 2, 1, 2]])
    second = np.array([[2, 2, 1, 1, 0, 0]])
    child = pox(first, second, 3, rng)
    assert sorted(child[0].tolist()) == [0, 0, 1, 1, 2, 2]
    # Every gene of the child sits where it was in `first`, or follows `second`'s order.
    kept = [g == f for g, f in zip(child[0], first[0], strict=True)]
    assert any(kept)


def test_incremental_move_matches_full_evaluation() -> None:
    from scheduler.ga.local_search import _Graph

    for problem in (random_jobshop(8, 5, seed=50), random_fjsp(6, 4, seed=51)):
        cp = compile_problem(problem)
        seqs, assigns = random_population(cp, 1, np.random.default_rng(3))
        graph = _Graph(cp, decode(cp, seqs[0], assigns[0]))
        cmax = graph.evaluate()
        for _ in range(40):
            blocks = [b for b in graph.critical_blocks(cmax) if len(b) > 1]
            if not blocks:
                break
            u, v = blocks[len(blocks) // 2][:2]
            if u in cp.preds[v]:
                break
            cmax = graph.move(u, v)
            assert cmax > 0
            heads, tails = list(graph.r), list(graph.q)
            assert graph.evaluate() == cmax
            assert (graph.r, graph.q) == (heads, tails)


def test_restarts_and_convergence_stop() -> None:
    problem = random_fjsp(5, 3, seed=60)
    options = {"population": 8, "ls_iterations": 30, "patience": 6, "restart_after": 2}
    first = solve(problem, "ga", time_limit_s=60.0, seed=2, options=options)
    second = solve(problem, "ga", time_limit_s=60.0, seed=2, options=options)
    assert first.operations == second.operations
    assert first.info["stop"] in {"converged", "lower_bound"}
    if first.bound is not None:
        assert first.objective_value >= first.bound


def test_progress_reported_on_improvement() -> None:
    seen: list[float] = []
    problem = random_jobshop(8, 4, seed=61)
    schedule = solve(
        problem,
        "ga",
        time_limit_s=60.0,
        options=FAST,
        on_progress=lambda p: seen.append(p.objective),
    )
    assert seen
    assert seen == sorted(seen, reverse=True)
    assert seen[-1] == schedule.objective_value
