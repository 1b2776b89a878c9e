"""A JSON form of the problem model (and of schedules), for tools and other languages."""

from __future__ import annotations

import json
from typing import Any

from models.scheduling import (
    Alternative,
    Job,
    Objective,
    Operation,
    Resource,
    Schedule,
    SchedulingProblem,
)


def problem_to_dict(problem: SchedulingProblem) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": problem.name,
        "num_machines": problem.num_machines,
        "machine_names": list(problem.machine_names),
        "machine_base": problem.machine_base,
        "objective": problem.objective.value,
        "resources": [{"name": r.name, "capacity": r.capacity} for r in problem.resources],
        "precedences": [list(edge) for edge in problem.precedences],
        "jobs": [
            {
                "name": job.name,
                "release": job.release,
                "due": job.due,
                "weight": job.weight,
                "ordered": job.ordered,
                "operations": [_operation_to_dict(problem.operations[o]) for o in job.operations],
            }
            for job in problem.jobs
        ],
    }
    if any(problem.machine_ready):  # written only when used (older readers ignore it anyway)
        out["machine_ready"] = list(problem.machine_ready)
    return out


def _operation_to_dict(op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {
        "alternatives": [[a.machine, a.duration] for a in op.alternatives],
        "demands": op.demands,
        "kind": op.kind,
        "size": op.size,
    }
    if op.release:
        out["release"] = op.release
    return out


def problem_from_dict(data: dict[str, Any]) -> SchedulingProblem:
    """Operation ids are assigned in job order; `precedences` refer to those ids."""
    jobs: list[Job] = []
    operations: list[Operation] = []
    for j, job in enumerate(data["jobs"]):
        ids = []
        for op in job["operations"]:
            alternatives = tuple(Alternative(int(m), int(d)) for m, d in op["alternatives"])
            if not alternatives:
                raise ValueError(f"jobs[{j}] has an operation with no alternatives")
            ids.append(len(operations))
            operations.append(
                Operation(
                    id=len(operations),
                    job=j,
                    alternatives=alternatives,
                    demands={k: int(v) for k, v in op.get("demands", {}).items()},
                    kind=op.get("kind", ""),
                    size=float(op.get("size", 0.0)),
                    release=int(op.get("release", 0)),
                )
            )
        jobs.append(
            Job(
                id=j,
                operations=tuple(ids),
                name=job.get("name", f"J{j}"),
                release=int(job.get("release", 0)),
                due=None if job.get("due") is None else int(job["due"]),
                weight=float(job.get("weight", 1.0)),
                ordered=bool(job.get("ordered", True)),
            )
        )
    return SchedulingProblem(
        name=data.get("name", "problem"),
        num_machines=int(data["num_machines"]),
        jobs=tuple(jobs),
        operations=tuple(operations),
        precedences=tuple((int(a), int(b)) for a, b in data.get("precedences", [])),
        resources=tuple(Resource(r["name"], int(r["capacity"])) for r in data.get("resources", [])),
        objective=Objective(data.get("objective", Objective.MAKESPAN.value)),
        machine_names=tuple(data.get("machine_names", [])),
        machine_base=int(data.get("machine_base", 0)),
        machine_ready=tuple(int(t) for t in data.get("machine_ready", [])),
    )


def problem_to_json(problem: SchedulingProblem) -> str:
    return json.dumps(problem_to_dict(problem), indent=1)


def problem_from_json(text: str) -> SchedulingProblem:
    return problem_from_dict(json.loads(text))


def schedule_rows(problem: SchedulingProblem, schedule: Schedule) -> list[dict[str, int]]:
    """`{job, op, machine, start, end}` rows numbered as in the instance file (op: position
    inside its job; machine: as the file numbers it, see `SchedulingProblem.machine_base`)."""
    position = {o: i for job in problem.jobs for i, o in enumerate(job.operations)}
    return [
        {
            "job": problem.operations[s.operation].job,
            "op": position[s.operation],
            "machine": s.machine + problem.machine_base,
            "start": s.start,
            "end": s.end,
        }
        for s in schedule.operations
    ]
