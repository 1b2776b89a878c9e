"""`orchestrator bench scheduling` on tiny job shops, run in local worker processes."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from controlplane.cli.main import main
from controlplane.experiments import grid, plots, results
from controlplane.experiments.results import RunRecord
from scheduler import registry
from scheduler.instances.bounds import load_bounds

# Two tiny job shops in the OR-Library format: `n_jobs n_machines`, then `machine duration`
# pairs per job in processing order.
INSTANCE_A = "2 2\n0 3 1 2\n1 4 0 1\n"
INSTANCE_B = "3 2\n0 2 1 3\n1 2 0 4\n0 1 1 1\n"
BOUND_A = 6  # upper = lower = 6 for a (a made-up best known value)


def _boom(problem: Any, context: Any) -> Any:
    raise RuntimeError("solver exploded\non two lines")


def _operations(text: str) -> dict[tuple[int, int], tuple[int, int]]:
    """(job, op) -> (machine, duration) as written in the file."""
    out = {}
    for job, line in enumerate(text.splitlines()[1:]):
        values = [int(v) for v in line.split()]
        for op, (machine, duration) in enumerate(zip(values[::2], values[1::2], strict=True)):
            out[(job, op)] = (machine, duration)
    return out


@pytest.fixture(scope="module")
def instances(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("instances")
    (folder / "tiny_a.txt").write_text(INSTANCE_A)
    (folder / "tiny_b.txt").write_text(INSTANCE_B)
    bounds = [
        {
            "instance": "tiny_a",
            "status": "closed",
            "lower_bound": BOUND_A,
            "upper_bound": BOUND_A,
            "cpsat_9_15_600s_4cores": {"lb": BOUND_A, "ub": BOUND_A, "minutes": 1},
        }
    ]
    (folder / "bounds.json").write_text(json.dumps(bounds))
    return folder


@pytest.fixture(scope="module")
def bench_run(
    instances: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, int, str, str]:
    """One CLI run shared by the tests that read its output."""
    out = tmp_path_factory.mktemp("out")
    capture = pytest.MonkeyPatch()
    stdout, stderr = io.StringIO(), io.StringIO()
    capture.setattr(sys, "stdout", stdout)
    capture.setattr(sys, "stderr", stderr)
    try:
        code = main(
            [
                "bench",
                "scheduling",
                "--instances",
                str(instances / "tiny_b.txt"),
                str(instances / "tiny_*.txt"),  # overlaps the first: deduplicated
                "--schedulers",
                "spt,lpt",
                "--time-limit",
                "5",
                "--bounds",
                str(instances / "bounds.json"),
                "--jobs",
                "2",
                "--details",
                "--out",
                str(out),
            ]
        )
    finally:
        capture.undo()
    return out, code, stdout.getvalue(), stderr.getvalue()


def test_results_json_has_one_ordered_record_per_instance_and_scheduler(
    bench_run: tuple[Path, int, str, str],
) -> None:
    out, code, _, _ = bench_run
    assert code == 0
    document = json.loads((out / "results.json").read_text())
    records = document["records"]
    assert [(r["instance"], r["scheduler"]) for r in records] == [
        ("tiny_a", "spt"),
        ("tiny_a", "lpt"),
        ("tiny_b", "spt"),
        ("tiny_b", "lpt"),
    ]
    assert document["experiment"]["schedulers"] == ["spt", "lpt"]
    assert document["experiment"]["runner"] == "local"
    for record in records:
        for key in (
            "instance",
            "scheduler",
            "makespan",
            "objective",
            "status",
            "bound",
            "solve_seconds",
            "schedule",
            "trace",
            "feasible",
            "error",
            "gap",
        ):
            assert key in record, key
        assert record["error"] is None
        assert record["feasible"] is True
        assert record["status"] in ("OPTIMAL", "FEASIBLE", "HEURISTIC")
        assert record["solve_seconds"] >= 0
        rows = record["schedule"]
        assert record["makespan"] == max(r["end"] for r in rows)
        assert record["objective"] == record["makespan"]
        # Rows are numbered as in the instance file: machine and duration match it.
        text = INSTANCE_A if record["instance"] == "tiny_a" else INSTANCE_B
        expected = _operations(text)
        assert {(r["job"], r["op"]) for r in rows} == set(expected)
        for r in rows:
            assert set(r) == {"job", "op", "machine", "start", "end"}
            assert (r["machine"], r["end"] - r["start"]) == expected[(r["job"], r["op"])]


def test_gap_against_the_bounds_file(bench_run: tuple[Path, int, str, str]) -> None:
    out, _, stdout, _ = bench_run
    records = json.loads((out / "results.json").read_text())["records"]
    for record in records:
        if record["instance"] == "tiny_a":
            assert record["best_known_upper"] == BOUND_A
            assert record["gap"] == pytest.approx((record["objective"] - BOUND_A) / BOUND_A)
            assert record["optimal"] == (record["objective"] == BOUND_A)
        else:  # not in the bounds file
            assert record["best_known_upper"] is None
            assert record["gap"] is None
    summary = {
        row["name"]: row for row in json.loads((out / "results.json").read_text())["summary"]
    }
    assert set(summary) == {"spt", "lpt", "cpsat_9_15_600s_4cores"}
    assert summary["cpsat_9_15_600s_4cores"]["reference"] is True
    assert summary["cpsat_9_15_600s_4cores"]["mean_gap"] == 0.0
    assert "spt" in stdout and "lpt" in stdout and "cpsat_9_15_600s_4cores" in stdout
    assert "tiny_b" in stdout  # --details rows


def test_csv_and_figures_are_written(bench_run: tuple[Path, int, str, str]) -> None:
    out, _, _, stderr = bench_run
    with (out / "results.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["instance"], r["scheduler"]) for r in rows] == [
        ("tiny_a", "spt"),
        ("tiny_a", "lpt"),
        ("tiny_b", "spt"),
        ("tiny_b", "lpt"),
    ]
    assert rows[0]["gap"] != "" and rows[2]["gap"] == ""
    for name in ("gantt/tiny_a.png", "gantt/tiny_b.png", "gap_vs_time.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert "4 runs (local)" in stderr


def test_unknown_scheduler_is_one_line_and_exit_2(
    instances: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "bench",
            "scheduling",
            "--instances",
            str(instances / "*.txt"),
            "--schedulers",
            "spt,nope",
            "--out",
            str(tmp_path),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "unknown scheduler nope" in err
    assert not (tmp_path / "results.json").exists()


def test_no_instance_matched_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["bench", "scheduling", "--instances", str(tmp_path / "none*.txt"), "--schedulers", "spt"]
    )
    assert code == 2
    assert "no instance files match" in capsys.readouterr().err


def test_help_documents_the_outputs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "scheduling", "--help"]) == 0
    text = capsys.readouterr().out
    for word in ("--ray-address", "--bounds", "results.json", "gap_vs_time.png", "gantt"):
        assert word in text


def test_a_failing_run_becomes_a_record(instances: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.ENTRIES, "boom", f"{__name__}:_boom")
    record = grid.run_one(str(instances / "tiny_a.txt"), "boom", 1.0)
    assert record.status == "ERROR" and not record.feasible
    assert record.error == "RuntimeError: solver exploded on two lines"
    missing = grid.run_one(str(instances / "missing.txt"), "spt", 1.0)
    assert missing.instance == "missing" and missing.error is not None


def _record(instance: str, scheduler: str, objective: float, **kw: Any) -> RunRecord:
    return RunRecord(
        instance=instance,
        instance_path=f"{instance}.txt",
        scheduler=scheduler,
        status="FEASIBLE",
        objective=objective,
        makespan=int(objective),
        feasible=True,
        **kw,
    )


def test_summary_gaps_and_optimal_counts(instances: Path) -> None:
    bounds = load_bounds(instances / "bounds.json")
    records = [
        _record("tiny_a", "x", 9, solve_seconds=1.0),  # gap 0.5 to the known 6
        _record("tiny_a", "y", 6, solve_seconds=3.0),  # optimal by the known lower bound
        _record("tiny_b", "x", 10, solve_seconds=2.0),  # no bound: best found here is 10
        _record("tiny_b", "y", 12, solve_seconds=1.0),
    ]
    rows = {r.name: r for r in results.summarize(records, ["x", "y"], bounds)}
    assert rows["x"].mean_gap == pytest.approx(0.25) and rows["x"].worst_gap == pytest.approx(0.5)
    assert rows["y"].mean_gap == pytest.approx(0.1) and rows["y"].optimal == 1
    assert rows["x"].mean_seconds == pytest.approx(1.5)
    assert rows["cpsat_9_15_600s_4cores"].runs == 1
    ordered = results.sort_records(reversed(records), ["y", "x"])
    assert [(r.instance, r.scheduler) for r in ordered][:2] == [("tiny_a", "y"), ("tiny_a", "x")]


def test_gap_curve_follows_the_incumbents() -> None:
    reference = {"i1": 100.0, "i2": 200.0}
    records = [
        _record("i1", "ga", 110, solve_seconds=3.0, trace=[(0.5, 150.0, None), (2.0, 110.0, None)]),
        _record("i2", "ga", 200, solve_seconds=3.0, trace=[(1.0, 260.0, None), (1.5, 200.0, None)]),
    ]
    xs, ys = plots.gap_curve(records, reference)
    # Starts once both instances have an incumbent (t=1.0): (50% + 30%) / 2.
    assert xs == [1.0, 1.5, 2.0, 3.0]
    assert ys == pytest.approx([40.0, 25.0, 5.0, 5.0])
