"""The per-family summary of bench/dispatch_transfer.py: best rule over the set vs per family."""

from __future__ import annotations

import pytest

from bench.dispatch_transfer import SETS, Run, instances_of, summarize, trivial_lower_bound
from scheduler.instances import random_jobshop


def _runs() -> list[Run]:
    gaps = {
        ("a1", "A"): {"ml": 0.10, "mwkr": 0.20, "spt": 0.30},
        ("a2", "A"): {"ml": 0.10, "mwkr": 0.20, "spt": 0.30},
        ("b1", "B"): {"ml": 0.02, "mwkr": 0.10, "spt": 0.04},
    }
    return [
        Run(name, family, scheduler, 100 * (1 + gap), gap, 0.1 if scheduler == "ml" else 0.01)
        for (name, family), by_scheduler in gaps.items()
        for scheduler, gap in by_scheduler.items()
    ]


def test_summary_compares_with_the_best_rule_of_the_set_and_of_each_family():
    rows = {row.family: row for row in summarize(_runs(), ["mwkr", "spt"])}
    assert list(rows) == ["A", "B", "overall"]
    overall = rows["overall"]
    assert overall.best_rule == "mwkr"  # 0.167 over the set against spt's 0.213
    assert overall.ml_gap == pytest.approx(0.22 / 3)
    assert overall.ratio == pytest.approx((0.22 / 3) / (0.5 / 3))
    b = rows["B"]
    assert (b.best_rule, b.best_rule_gap) == ("mwkr", pytest.approx(0.10))
    assert (b.family_best_rule, b.family_best_rule_gap) == ("spt", pytest.approx(0.04))
    assert b.family_ratio == pytest.approx(0.5)
    assert rows["A"].instances == 2 and rows["A"].ml_max_s == pytest.approx(0.1)


def test_sets_and_generated_instances():
    unseen = SETS["unseen"]
    assert len(unseen) == 20 + 4 + 10 + 70
    assert "ta11js" in unseen and "ta10js" not in unseen and "ta80js" in unseen
    assert not set(unseen) & set(SETS["laft"] + SETS["abz"])
    generated = instances_of("generated", data=None)  # type: ignore[arg-type]
    assert generated[0].family == "gen 20x15"
    problem = random_jobshop(5, 3, 1)
    load = max(
        sum(op.min_duration for op in problem.operations if op.alternatives[0].machine == m)
        for m in range(3)
    )
    assert trivial_lower_bound(problem) >= load
