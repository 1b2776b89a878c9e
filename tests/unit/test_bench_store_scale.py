"""The pure figures of bench/store_scale.py and the row copies of bench/store_seed.py (no
server, no Ray)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.stats import percentile
from bench.store_scale_stats import Latency, deep_position, growth, per_item, vm_rss_kib
from bench.store_seed import TableRows, Template, copy_batch, seed
from controlplane.store import SqliteStore


def test_percentile_interpolates_between_closest_ranks() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile(values, 50) == pytest.approx(2.5)
    assert percentile(values, 99) == pytest.approx(3.97)
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_latency_is_in_milliseconds() -> None:
    latency = Latency.of_seconds([0.001, 0.002, 0.003])
    assert latency == Latency(3, pytest.approx(2.0), pytest.approx(2.98))


def test_growth_is_largest_size_over_smallest() -> None:
    assert growth({100_000: 3.0, 1000: 2.0, 10_000: 9.0}) == pytest.approx(1.5)
    with pytest.raises(ValueError):
        growth({1000: 1.0})
    with pytest.raises(ValueError):
        growth({1000: 0.0, 2000: 1.0})


def test_per_item_and_rss_parsing() -> None:
    assert per_item(3000, 3) == 1000
    with pytest.raises(ValueError):
        per_item(1, 0)
    status = "Name:\tpython\nVmHWM:\t  300000 kB\nVmRSS:\t  245760 kB\n"
    assert vm_rss_kib(status) == 245760
    with pytest.raises(ValueError):
        vm_rss_kib("Name:\tzombie\n")


def test_deep_position_lands_on_whole_pages() -> None:
    assert deep_position(100_000, 0.9, 50) == 90_000
    assert deep_position(1030, 0.9, 50) == 900
    assert deep_position(10, 0.9, 50) == 50  # at least one page
    with pytest.raises(ValueError):
        deep_position(100, 1.0, 50)


def _template() -> Template:
    old = "a" * 32
    return Template(
        execution_id=old,
        create_time=100.0,
        tables=(
            TableRows(
                "executions",
                ("execution_id", "create_time", "start_time", "end_time", "note"),
                ((old, 100.0, 101.0, None, f"parent {old}"),),
            ),
            TableRows("tasks", ("execution_id", "task_id"), ((old, "t1"), (old, "t2"))),
            TableRows("events", ("execution_id", "sequence", "time"), ((old, 1, 100.5),)),
            TableRows("signals", ("execution_id", "time"), ((old, 102.0),)),
        ),
        audit=(99.0, "caller", "default", "StartExecution", "wf", "{}", "OK"),
    )


def test_a_copy_is_the_template_under_a_new_id_shifted_in_time() -> None:
    template = _template()
    batch, audit = copy_batch(template, "b" * 32, 1100.0)
    new = "b" * 32
    assert batch.executions == [(new, 1100.0, 1101.0, None, f"parent {new}")]
    assert batch.tasks == [(new, "t1"), (new, "t2")]
    assert batch.events == [(new, 1, 1100.5)]
    assert batch.statements == [("INSERT INTO signals VALUES (?,?)", (new, 1102.0))]
    assert audit[0][1] == (1099.0, "caller", "default", "StartExecution", "wf", "{}", "OK")
    assert template.task_count == 2


def test_seed_writes_the_copies_through_the_store(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "orchestrator.db")
    try:
        old = "a" * 32
        row = (old, "wf", 1, "SUCCEEDED", "{}", "{}", None, None, 100.0, 100.5, 101.0, 4)
        template = Template(
            old,
            100.0,
            (
                TableRows(
                    "executions",
                    (
                        "execution_id",
                        "workflow",
                        "revision",
                        "status",
                        "inputs",
                        "outputs",
                        "error",
                        "request_id",
                        "create_time",
                        "start_time",
                        "end_time",
                        "last_sequence",
                        "namespace",
                        "paused",
                        "parent_execution_id",
                    ),
                    ((*row, "default", 0, ""),),
                ),
                TableRows(
                    "tasks",
                    ("execution_id", "task_id", "agent", "status", "output", "error", "depends_on"),
                    ((old, "t", "noop", "SUCCEEDED", "{}", None, "[]"),),
                ),
            ),
            None,
        )
        assert seed(store, [template], 7, 2000.0, 1.0, per_transaction=3) == 7
        times = store.query("SELECT create_time FROM executions ORDER BY create_time")
        assert [t[0] for t in times] == [2000.0 + k for k in range(7)]
        assert store.query("SELECT count(*) FROM tasks")[0][0] == 7
    finally:
        store.close()
