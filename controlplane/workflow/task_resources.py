"""The `resources`, `placement`, `priority` and `heartbeat_timeout` fields of a workflow task.

    resources: {cpu: 2, memory: 4Gi, gpu: 0.5, accelerator_x: 1}
    placement: {pool: gpu, node_labels: {zone: "in(a,b)"}, affinity: [fetch],
                anti_affinity: [replica_a], spread: true}
    priority: 10
    heartbeat_timeout: 30s

Problems are reported through `report(path, message)` with the full path of the offending
field, like every other definition error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from models.durations import parse_duration
from models.heartbeats import MIN_HEARTBEAT_TIMEOUT_S
from models.resources import CPU, GPU, MEMORY, ResourceAmounts
from models.workflows import PlacementConstraints

Report = Callable[[str, str], None]

_PLACEMENT_KEYS = ("pool", "node_labels", "affinity", "anti_affinity", "spread")
_CUSTOM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:/-]{0,62}$")
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([kKmMgGtTpP]i?)?[bB]?\s*$")
_UNITS = {
    "": 1,
    **{unit: 1000 ** (i + 1) for i, unit in enumerate("kmgtp")},
    **{f"{unit}i": 1 << (10 * (i + 1)) for i, unit in enumerate("kmgtp")},
}


def parse_memory(value: Any) -> int:
    """Bytes from an integer or a size: ``512Mi``, ``8Gi``, ``1.5Gi`` (binary), ``1G``,
    ``500M`` (decimal); a trailing ``B`` is allowed and units are case-insensitive."""
    if isinstance(value, bool):
        raise ValueError(f"expected a memory size such as 512Mi or 8Gi, got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"memory must not be negative, got {value}")
        return int(value)
    if isinstance(value, str):
        match = _MEMORY.match(value)
        if match:
            unit = (match.group(2) or "").lower()
            return round(float(match.group(1)) * _UNITS[unit])
    raise ValueError(f"expected a memory size such as 512Mi or 8Gi, got {value!r}")


def parse_resources(path: str, raw: Any, report: Report) -> ResourceAmounts:
    if raw is None:
        return ResourceAmounts()
    if not isinstance(raw, dict):
        report(path, "expected an object of resource amounts, e.g. {cpu: 1, memory: 2Gi}")
        return ResourceAmounts()
    cpu = gpu = 0.0
    memory = 0
    custom: dict[str, float] = {}
    for key, value in raw.items():
        where = f"{path}.{key}"
        if key == MEMORY:
            try:
                memory = parse_memory(value)
            except ValueError as exc:
                report(where, str(exc))
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            report(where, f"expected a number, got {type(value).__name__}")
            continue
        if value < 0:
            report(where, f"must not be negative, got {value}")
            continue
        if key == CPU:
            cpu = float(value)
        elif key == GPU:
            gpu = float(value)
        elif isinstance(key, str) and _CUSTOM_NAME.match(key):
            custom[key] = float(value)
        else:
            report(where, f"invalid resource name {key!r}")
    return ResourceAmounts(cpu=cpu, memory=memory, gpu=gpu, custom=custom)


def _task_ids(path: str, raw: Any, report: Report) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        report(path, "expected a list of task ids")
        return ()
    out = []
    for i, value in enumerate(raw):
        if isinstance(value, str) and value:
            out.append(value)
        else:
            report(f"{path}[{i}]", "expected a task id")
    return tuple(out)


def parse_placement(path: str, raw: Any, report: Report) -> PlacementConstraints:
    if raw is None:
        return PlacementConstraints()
    if not isinstance(raw, dict):
        report(path, "expected a placement object")
        return PlacementConstraints()
    for key in raw:
        if key not in _PLACEMENT_KEYS:
            report(f"{path}.{key}", f"unknown field '{key}'; known: {', '.join(_PLACEMENT_KEYS)}")
    pool = raw.get("pool", "")
    if not isinstance(pool, str):
        report(f"{path}.pool", "expected a pool name")
        pool = ""
    labels_raw = raw.get("node_labels") or {}
    labels: dict[str, str] = {}
    if not isinstance(labels_raw, dict):
        report(f"{path}.node_labels", "expected an object of label: expression")
    else:
        for key, value in labels_raw.items():
            if isinstance(key, str) and isinstance(value, str) and key and value:
                labels[key] = value
            else:
                report(f"{path}.node_labels.{key}", "expected a non-empty string expression")
    spread = raw.get("spread", False)
    if not isinstance(spread, bool):
        report(f"{path}.spread", "expected true or false")
        spread = False
    return PlacementConstraints(
        pool=pool,
        node_labels=labels,
        affinity=_task_ids(f"{path}.affinity", raw.get("affinity"), report),
        anti_affinity=_task_ids(f"{path}.anti_affinity", raw.get("anti_affinity"), report),
        spread=spread,
    )


def parse_priority(path: str, raw: Any, report: Report) -> int:
    if raw is None:
        return 0
    if isinstance(raw, bool) or not isinstance(raw, int):
        report(path, "expected an integer")
        return 0
    return int(raw)


def parse_heartbeat_timeout(path: str, raw: Any, report: Report) -> float | None:
    """How long an attempt may go without a heartbeat (None: heartbeats are not required)."""
    if raw is None:
        return None
    try:
        seconds = parse_duration(raw)
    except ValueError as exc:
        report(path, str(exc))
        return None
    if seconds < MIN_HEARTBEAT_TIMEOUT_S:
        report(
            path,
            f"heartbeat_timeout {raw!r} is shorter than {MIN_HEARTBEAT_TIMEOUT_S:g}s "
            "(heartbeats reach the control plane about twice a second)",
        )
        return None
    return seconds


def check_placement_refs(
    tasks: Iterable[tuple[str, str | None, PlacementConstraints]], report: Report
) -> None:
    """Affinity targets must be other tasks of the workflow, and a task cannot both seek and
    avoid the same one. `tasks` are (path, task id, constraints)."""
    entries = list(tasks)
    known = {task_id for _, task_id, _ in entries if task_id}
    for base, task_id, placement in entries:
        for field, targets in (
            ("affinity", placement.affinity),
            ("anti_affinity", placement.anti_affinity),
        ):
            for i, target in enumerate(targets):
                where = f"{base}.placement.{field}[{i}]"
                if target == task_id:
                    report(where, "a task cannot refer to itself")
                elif target not in known:
                    report(where, f"unknown task '{target}'")
        for target in sorted(set(placement.affinity) & set(placement.anti_affinity)):
            report(f"{base}.placement", f"task '{target}' is in both affinity and anti_affinity")
