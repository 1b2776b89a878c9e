"""Files of the placement benchmark: the Alibaba GPU cluster trace (node and pod CSV lists), the
results.json and the allocation-versus-load figure (matplotlib Agg canvas, no pyplot)."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from models.placement import GpuNode, Pod
from scheduler.placement.replay import ReplayResult

NODE_COLUMNS = ("sn", "cpu_milli", "memory_mib", "gpu", "model")
POD_COLUMNS = ("name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli", "gpu_spec")


class TraceError(ValueError):
    """A trace file that cannot be read or has the wrong columns."""


def _rows(path: Path, columns: Sequence[str]) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in columns if c not in (reader.fieldnames or [])]
            if missing:
                raise TraceError(f"{path}: missing column(s) {', '.join(missing)}")
            return list(reader)
    except OSError as exc:
        raise TraceError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise TraceError(f"{path}: not a UTF-8 CSV file") from exc


def _int(row: dict[str, str], key: str, path: Path, line: int) -> int:
    text = (row.get(key) or "").strip()
    try:
        return int(float(text)) if text else 0
    except ValueError as exc:
        raise TraceError(f"{path}:{line}: {key}={text!r} is not a number") from exc


def load_nodes(path: str | Path) -> list[GpuNode]:
    """`sn,cpu_milli,memory_mib,gpu,model` rows."""
    path = Path(path)
    nodes = []
    for line, row in enumerate(_rows(path, NODE_COLUMNS), start=2):
        try:
            nodes.append(
                GpuNode(
                    row["sn"],
                    _int(row, "cpu_milli", path, line),
                    _int(row, "memory_mib", path, line),
                    _int(row, "gpu", path, line),
                    (row["model"] or "").strip(),
                )
            )
        except ValueError as exc:
            raise TraceError(f"{path}:{line}: {exc}") from exc
    if not nodes:
        raise TraceError(f"{path}: no nodes")
    return nodes


def load_pods(path: str | Path) -> list[Pod]:
    """`name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,...` rows; gpu_spec is a
    `|`-separated list of allowed GPU models (empty: any)."""
    path = Path(path)
    pods = []
    for line, row in enumerate(_rows(path, POD_COLUMNS), start=2):
        spec = frozenset(s.strip() for s in (row["gpu_spec"] or "").split("|") if s.strip())
        try:
            pods.append(
                Pod(
                    row["name"],
                    _int(row, "cpu_milli", path, line),
                    _int(row, "memory_mib", path, line),
                    _int(row, "num_gpu", path, line),
                    _int(row, "gpu_milli", path, line),
                    spec,
                )
            )
        except ValueError as exc:
            raise TraceError(f"{path}:{line}: {exc}") from exc
    if not pods:
        raise TraceError(f"{path}: no pods")
    return pods


def result_dict(result: ReplayResult, seconds: float | None = None) -> dict[str, Any]:
    return {
        "at_load": {
            f"{load:g}" if load != int(load) else f"{load:.1f}": {
                "arrived": round(p.load, 6),
                "allocated": round(p.allocated, 6),
                "unallocated": round(p.unallocated, 6),
                "failed": p.failed,
                "failed_gpu": round(p.failed_gpu, 6),
            }
            for load, p in sorted(result.at_load.items())
        },
        "arrivals": len(result.placements),
        "failed": result.failed,
        "violations": len(result.violations),
        "violation_examples": result.violations[:10],
        "seconds": None if seconds is None else round(seconds, 3),
        "placements": [
            {"pod": p.pod.name, "node": p.node, "gpu_index": list(p.gpu_indices)}
            for p in result.placements
        ],
    }


def write_results(
    path: Path,
    experiment: dict[str, Any],
    results: Sequence[ReplayResult],
    seconds: dict[str, float] | None = None,
) -> Path:
    data = {
        "experiment": experiment,
        "policies": {r.policy: result_dict(r, (seconds or {}).get(r.policy)) for r in results},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return path


def allocation_plot(results: Sequence[ReplayResult], path: Path, title: str) -> Path:
    """Allocated GPU fraction versus arrived load, one line per policy, with the ideal line."""
    figure = Figure(figsize=(9, 5.5), layout="constrained")
    ax = figure.add_subplot()
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="ideal")
    colors = {}
    for r in results:
        step = max(1, len(r.arrived) // 2000)
        final = r.at_load.get(1.0)
        label = r.policy if final is None else f"{r.policy} ({100 * final.unallocated:.2f}% left)"
        (line,) = ax.plot(
            r.arrived[::step] + r.arrived[-1:],
            r.allocated[::step] + r.allocated[-1:],
            linewidth=1.4,
            label=label,
        )
        colors[r.policy] = line.get_color()
    ax.set_xlabel("arrived GPU load (requested / capacity)")
    ax.set_ylabel("allocated GPU (fraction of capacity)")
    ax.set_xlim(0.4, 1.0)
    ax.set_ylim(0.4, 1.0)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=9)
    ax.set_title(title)
    inset = ax.inset_axes((0.55, 0.08, 0.42, 0.38))
    for r in results:
        n = len(r.arrived)
        lo = next((i for i, a in enumerate(r.arrived) if a >= 0.85), 0)
        inset.plot(r.arrived[lo:n], r.allocated[lo:n], linewidth=1.1, color=colors[r.policy])
    inset.set_title("from 85% load", fontsize=8)
    inset.tick_params(labelsize=7)
    inset.grid(alpha=0.3)
    FigureCanvasAgg(figure)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    return path
