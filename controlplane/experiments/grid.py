"""The grid of (instance, scheduler) runs, one run as a plain function, and the local runner.

`run_one` is the unit of work everywhere: the local runner calls it in worker processes, the
Ray runner (`ray_backend.experiments`) calls it inside Ray tasks. It never raises: a failing
run becomes a record with `error`.
"""

from __future__ import annotations

import glob
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controlplane.experiments.results import ERROR_STATUS, FEASIBLE_STATUSES, RunRecord
from models.scheduling import Progress

INSTANCE_SUFFIXES = (".txt", ".json", ".fjs", ".jss")

OnDone = Callable[[RunRecord], None]


class GridError(ValueError):
    """A grid that cannot run (no instances, unknown scheduler, clashing names)."""


@dataclass(frozen=True)
class RunSpec:
    instance_path: str
    scheduler: str
    time_limit_s: float
    seed: int = 0
    workers: int = 1
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def instance(self) -> str:
        return Path(self.instance_path).stem

    def args(self) -> tuple[str, str, float, int, int, dict[str, Any]]:
        return (
            self.instance_path,
            self.scheduler,
            self.time_limit_s,
            self.seed,
            self.workers,
            self.options,
        )


def expand_instances(patterns: Iterable[str]) -> list[Path]:
    """Paths, globs (`**` allowed) and folders (their instance files), deduplicated, sorted
    by name. Raises GridError when nothing matches or two files share a name."""
    found: dict[Path, Path] = {}
    for pattern in patterns:
        candidates: list[Path]
        path = Path(pattern)
        if path.is_dir():
            candidates = [p for p in sorted(path.iterdir()) if p.suffix in INSTANCE_SUFFIXES]
        elif path.is_file():
            candidates = [path]
        else:
            candidates = [Path(p) for p in sorted(glob.glob(pattern, recursive=True))]
        for candidate in candidates:
            if candidate.is_file() and candidate.name != "bounds.json":
                found.setdefault(candidate.resolve(), candidate)
    if not found:
        raise GridError(f"no instance files match {' '.join(patterns)}")
    by_name: dict[str, Path] = {}
    for path in found.values():
        other = by_name.setdefault(path.stem, path)
        if other != path:
            raise GridError(f"two instances are named {path.stem!r}: {other} and {path}")
    return [by_name[name] for name in sorted(by_name)]


def parse_schedulers(text: str, known: Sequence[str]) -> list[str]:
    """`spt,lpt, cpsat` -> ['spt', 'lpt', 'cpsat'] (duplicates dropped, order kept)."""
    names: list[str] = []
    for part in text.split(","):
        name = part.strip()
        if name and name not in names:
            names.append(name)
    if not names:
        raise GridError("no scheduler given")
    unknown = [n for n in names if n not in known]
    if unknown:
        raise GridError(f"unknown scheduler {', '.join(unknown)}; choose from {', '.join(known)}")
    return names


def build_grid(
    instances: Sequence[Path],
    schedulers: Sequence[str],
    time_limit_s: float,
    seed: int = 0,
    workers: int = 1,
    options: dict[str, dict[str, Any]] | None = None,
) -> list[RunSpec]:
    """Every scheduler on every instance, instance-major; `options` per scheduler name."""
    return [
        RunSpec(
            str(path),
            name,
            time_limit_s,
            seed,
            workers,
            dict((options or {}).get(name, {})),
        )
        for path in instances
        for name in schedulers
    ]


def run_one(
    instance_path: str,
    scheduler: str,
    time_limit_s: float,
    seed: int = 0,
    workers: int = 1,
    options: dict[str, Any] | None = None,
) -> RunRecord:
    """Loads the instance, solves it with the named scheduler (the registry checks the
    schedule's feasibility) and returns a plain record. Never raises."""
    from scheduler import registry
    from scheduler.instances import load_instance
    from scheduler.instances.json_io import schedule_rows

    started = time.perf_counter()
    trace: list[tuple[float, float, float | None]] = []

    def on_progress(progress: Progress) -> None:
        trace.append((float(progress.elapsed_s), float(progress.objective), progress.bound))

    common: dict[str, Any] = {
        "instance_path": str(instance_path),
        "scheduler": scheduler,
        "time_limit_s": float(time_limit_s),
        "seed": seed,
        "workers": workers,
    }
    name = Path(instance_path).stem
    try:
        problem = load_instance(instance_path)
        name = problem.name or name
        schedule = registry.solve(
            problem,
            scheduler,
            time_limit_s=time_limit_s,
            seed=seed,
            workers=workers,
            options=dict(options or {}),
            on_progress=on_progress,
        )
    except Exception as exc:
        return RunRecord(
            instance=name,
            status=ERROR_STATUS,
            error=f"{type(exc).__name__}: {' '.join(str(exc).split())}",
            wall_seconds=time.perf_counter() - started,
            trace=trace,
            **common,
        )
    status = schedule.status.value
    feasible = status in FEASIBLE_STATUSES and len(schedule.operations) > 0
    return RunRecord(
        instance=name,
        status=status,
        objective=float(schedule.objective_value) if feasible else None,
        makespan=schedule.makespan if feasible else None,
        bound=None if schedule.bound is None else float(schedule.bound),
        solve_seconds=float(schedule.solve_seconds),
        wall_seconds=time.perf_counter() - started,
        feasible=feasible,
        trace=trace,
        schedule=schedule_rows(problem, schedule) if feasible else [],
        **common,
    )


def run_spec(spec: RunSpec) -> RunRecord:
    return run_one(*spec.args())


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_jobs(workers: int) -> int:
    """Worker processes for the local runner: every run reserves `workers` CPUs."""
    return max(1, usable_cpus() // max(1, workers))


def failed_record(spec: RunSpec, exc: BaseException) -> RunRecord:
    """A record for a run whose worker died (process crash, lost Ray task)."""
    return RunRecord(
        instance=spec.instance,
        instance_path=spec.instance_path,
        scheduler=spec.scheduler,
        status=ERROR_STATUS,
        error=f"{type(exc).__name__}: {' '.join(str(exc).split())}",
        time_limit_s=spec.time_limit_s,
        seed=spec.seed,
        workers=spec.workers,
    )


def run_local(
    specs: Sequence[RunSpec], jobs: int | None = None, on_done: OnDone | None = None
) -> list[RunRecord]:
    """Runs the grid in a pool of `jobs` fresh worker processes (spawned, so nothing of this
    process, such as a Ray connection or gRPC threads, leaks into them). Records come back in
    completion order; sort them with `results.sort_records`."""
    if not specs:
        return []
    processes = max(1, min(jobs or default_jobs(specs[0].workers), len(specs)))
    records: list[RunRecord] = []
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
        pending: dict[Future[RunRecord], RunSpec] = {
            pool.submit(run_spec, spec): spec for spec in specs
        }
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                spec = pending.pop(future)
                try:
                    record = future.result()
                except Exception as exc:  # the worker process died
                    record = failed_record(spec, exc)
                records.append(record)
                if on_done is not None:
                    on_done(record)
    return records


def run_ray(
    specs: Sequence[RunSpec], address: str | None, on_done: OnDone | None = None
) -> list[RunRecord]:
    """Runs the grid as Ray tasks (`run_one` each, reserving `workers` CPUs). Uses the Ray
    connection of this process when there is one, else connects to `address` ('auto',
    'host:port'; None starts a local Ray) and disconnects afterwards."""
    from ray_backend import cluster
    from ray_backend import experiments as ray_experiments

    if not specs:
        return []
    connected = ray_experiments.ensure_connected(address)
    try:
        records: list[RunRecord] = []
        try:
            finished = ray_experiments.map_tasks(
                run_one,
                [spec.args() for spec in specs],
                num_cpus=specs[0].workers,
                names=[f"bench:{spec.instance}:{spec.scheduler}" for spec in specs],
            )
            for index, result in finished:
                record = (
                    result if isinstance(result, RunRecord) else failed_record(specs[index], result)
                )
                records.append(record)
                if on_done is not None:
                    on_done(record)
        except ray_experiments.NotEnoughCpus as exc:
            raise GridError(str(exc)) from None
        return records
    finally:
        if connected:
            cluster.disconnect()
