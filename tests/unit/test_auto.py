"""`auto` picks a scheduler from size, structure and budget, says why, and returns a feasible
schedule."""

from __future__ import annotations

from scheduler import solve
from scheduler.auto import choose
from scheduler.instances import random_dag, random_jobshop


def test_small_problems_go_to_cpsat() -> None:
    choice = choose(random_jobshop(3, 3, seed=1), time_limit_s=5, ml_available=True)
    assert choice.scheduler == "cpsat" and "small" in choice.reason


def test_tiny_budget_uses_a_constructive_method() -> None:
    big = random_jobshop(20, 10, seed=2)
    assert choose(big, time_limit_s=0.1, ml_available=True).scheduler == "ml"
    assert choose(big, time_limit_s=0.1, ml_available=False).scheduler == "mwkr"
    dag = random_dag(60, 4, seed=3)
    assert choose(dag, time_limit_s=0.1, ml_available=True).scheduler == "heft"


def test_large_problem_with_short_budget_goes_to_ga() -> None:
    big = random_jobshop(50, 20, seed=4)  # 1000 operations
    choice = choose(big, time_limit_s=2, ml_available=True)
    assert choice.scheduler == "ga" and "1000 operations" in choice.reason
    assert choose(big, time_limit_s=10, ml_available=True).scheduler == "cpsat"


def test_solve_auto_reports_its_choice() -> None:
    problem = random_jobshop(4, 3, seed=5)
    schedule = solve(problem, "auto", time_limit_s=2, seed=0, workers=1)
    assert schedule.solver == "auto:cpsat"
    assert schedule.info["auto"]["scheduler"] == "cpsat"
    assert schedule.info["auto"]["reason"]
