"""OR-Library/Taillard job shop and Brandimarte/Hurink flexible job shop text formats.

Job shop: `n_jobs n_machines`, then per job `machine duration` pairs (machines from 0).
Flexible job shop: `n_jobs n_machines [avg]`, then per job the number of operations and per
operation `k` followed by k `machine duration` pairs (machines from 1; stored from 0).
"""

from __future__ import annotations

from pathlib import Path

from models.scheduling import Alternative, Job, Operation, SchedulingProblem


class InstanceFormatError(ValueError):
    pass


def _numbers(text: str, name: str) -> list[int]:
    try:
        return [int(float(token)) for token in text.split()]
    except ValueError as exc:
        raise InstanceFormatError(f"{name}: not a list of numbers ({exc})") from exc


def parse_jobshop(text: str, name: str = "jobshop") -> SchedulingProblem:
    lines = [
        line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        raise InstanceFormatError(f"{name}: empty file")
    header = _numbers(lines[0], name)
    if len(header) < 2:
        raise InstanceFormatError(f"{name}: first line must be 'n_jobs n_machines'")
    n_jobs, n_machines = header[0], header[1]
    if len(lines) < 1 + n_jobs:
        raise InstanceFormatError(f"{name}: expected {n_jobs} job lines, found {len(lines) - 1}")
    jobs: list[Job] = []
    operations: list[Operation] = []
    for j in range(n_jobs):
        values = _numbers(lines[1 + j], name)
        if len(values) % 2:
            raise InstanceFormatError(f"{name}: job {j} line has an odd number of values")
        ids = []
        for machine, duration in zip(values[::2], values[1::2], strict=True):
            if not 0 <= machine < n_machines:
                raise InstanceFormatError(f"{name}: job {j} uses machine {machine} of {n_machines}")
            ids.append(len(operations))
            operations.append(Operation(len(operations), j, (Alternative(machine, duration),)))
        jobs.append(Job(j, tuple(ids), name=f"J{j}"))
    return SchedulingProblem(name, n_machines, tuple(jobs), tuple(operations))


def parse_fjsp(text: str, name: str = "fjsp") -> SchedulingProblem:
    values = _numbers(text, name)
    if len(values) < 2:
        raise InstanceFormatError(f"{name}: first line must be 'n_jobs n_machines'")
    n_jobs, n_machines = values[0], values[1]
    # The optional third header value (average machines per operation) is a float in some files.
    first_line = text.strip().splitlines()[0].split()
    pos = len(first_line)
    jobs: list[Job] = []
    operations: list[Operation] = []
    try:
        for j in range(n_jobs):
            n_ops = values[pos]
            pos += 1
            ids = []
            for _ in range(n_ops):
                k = values[pos]
                pos += 1
                alternatives = []
                for _ in range(k):
                    machine, duration = values[pos] - 1, values[pos + 1]
                    pos += 2
                    if not 0 <= machine < n_machines:
                        raise InstanceFormatError(f"{name}: job {j} uses machine {machine + 1}")
                    alternatives.append(Alternative(machine, duration))
                ids.append(len(operations))
                operations.append(Operation(len(operations), j, tuple(alternatives)))
            jobs.append(Job(j, tuple(ids), name=f"J{j}"))
    except IndexError as exc:
        raise InstanceFormatError(f"{name}: file ends early") from exc
    return SchedulingProblem(name, n_machines, tuple(jobs), tuple(operations), machine_base=1)


def load_instance(path: Path | str, kind: str = "auto") -> SchedulingProblem:
    """Loads a job shop, flexible job shop or JSON problem; `auto` decides from the path."""
    path = Path(path)
    name = path.stem
    text = path.read_text()
    if kind == "auto":
        if path.suffix == ".json":
            kind = "json"
        elif "fjsp" in path.parts or path.stem.startswith("mk") or path.stem.endswith("data"):
            kind = "fjsp"
        else:
            kind = "jobshop"
    if kind == "json":
        from scheduler.instances.json_io import problem_from_json

        return problem_from_json(text)
    if kind == "fjsp":
        return parse_fjsp(text, name)
    if kind == "jobshop":
        return parse_jobshop(text, name)
    raise InstanceFormatError(f"unknown instance kind {kind!r}")
