"""The experiment grid as Ray tasks on a local Ray gives the local runner's results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controlplane.cli.main import main
from controlplane.experiments import grid, results
from ray_backend import cluster
from ray_backend import experiments as ray_experiments

INSTANCE_A = "2 2\n0 3 1 2\n1 4 0 1\n"
INSTANCE_B = "3 2\n0 2 1 3\n1 2 0 4\n0 1 1 1\n"
SCHEDULERS = ["spt", "lpt"]


@pytest.fixture(scope="module")
def local_ray(ray_namespace: str) -> None:
    """The local Ray of conftest.py (handed on to the next module if these tasks left it
    clean)."""


@pytest.fixture(scope="module")
def instances(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("instances")
    (folder / "tiny_a.txt").write_text(INSTANCE_A)
    (folder / "tiny_b.txt").write_text(INSTANCE_B)
    return grid.expand_instances([str(folder / "*.txt")])


def _comparable(records: list[results.RunRecord]) -> list[tuple[object, ...]]:
    return [
        (r.instance, r.scheduler, r.status, r.objective, r.makespan, r.error, r.schedule)
        for r in results.sort_records(records, SCHEDULERS)
    ]


def test_ray_runner_matches_the_local_runner_for_rules(
    local_ray: None, instances: list[Path]
) -> None:
    specs = grid.build_grid(instances, SCHEDULERS, time_limit_s=5.0)
    done: list[str] = []
    on_ray = grid.run_ray(specs, None, on_done=lambda r: done.append(r.scheduler))
    assert cluster.is_connected()  # an existing connection is reused, not closed
    assert len(done) == len(specs)
    local = grid.run_local(specs, jobs=1)
    assert all(r.feasible for r in on_ray)
    assert _comparable(on_ray) == _comparable(local)


def test_ga_with_a_generation_budget_is_reproducible_on_ray(
    local_ray: None, instances: list[Path]
) -> None:
    options = {"ga": {"generations": 5, "population": 8}}
    specs = grid.build_grid(instances, ["ga"], time_limit_s=30.0, seed=3, options=options)
    on_ray = grid.run_ray(specs, None)
    local = [grid.run_spec(spec) for spec in specs]  # in this process
    assert all(r.feasible for r in on_ray)
    assert _comparable(on_ray) == _comparable(local)


def test_cli_with_ray_address_writes_the_same_records(
    local_ray: None, instances: list[Path], tmp_path: Path
) -> None:
    def bench(out: Path, *extra: str) -> list[dict[str, object]]:
        code = main(
            [
                "bench",
                "scheduling",
                "--instances",
                *[str(p) for p in instances],
                "--schedulers",
                ",".join(SCHEDULERS),
                "--time-limit",
                "5",
                "--no-plots",
                "--out",
                str(out),
                *extra,
            ]
        )
        assert code == 0
        document = json.loads((out / "results.json").read_text())
        return list(document["records"])

    on_ray = bench(tmp_path / "ray", "--ray-address", "auto")
    local = bench(tmp_path / "local", "--jobs", "1")
    keys = ("instance", "scheduler", "status", "objective", "makespan", "schedule")
    assert [[r[k] for k in keys] for r in on_ray] == [[r[k] for k in keys] for r in local]
    experiment = json.loads((tmp_path / "ray" / "results.json").read_text())["experiment"]
    assert experiment["runner"] == "ray"


def test_failed_tasks_are_reported_not_raised(local_ray: None) -> None:
    finished = dict(ray_experiments.map_tasks(json.loads, [("3",), ("x",)], num_cpus=1))
    assert finished[0] == 3
    assert isinstance(finished[1], Exception)
    with pytest.raises(ray_experiments.NotEnoughCpus):
        list(ray_experiments.map_tasks(json.loads, [("1",)], num_cpus=64))
