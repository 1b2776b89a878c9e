"""Store and memory at scale: reads that must not grow with the store, memory that finished
executions must leave.

1. Memory: `orchestrator serve` as a subprocess (its own local Ray, fresh data dir), the no-op
   agent `samples.agents:EchoAgent`, and a tiny workflow (two tasks in parallel, a third over
   both) run through the gRPC API, `--threads` executions at a time, each started and watched
   to its end. The server's VmRSS after each count of finished executions (default 1k, 10k).
2. Store: a second data dir filled with copies of the first executions that run really made
   (bench/store_seed.py: their rows from every execution table and their StartExecution audit
   row, under fresh ids, written through the store's own write API) up to each size (default
   1k, 10k, 100k); at each size a fresh `orchestrator serve` on that data dir answers, over its
   socket, ListExecutions (first page; a page 90% of the way down, through its page token; the
   first page of a status filter every execution matches, and of one none matches) and
   GetExecution of random ids (p50/p99); then the store's
   bytes (database + WAL after a checkpoint) per task.

Prints one table, writes JSON to `--out`.

    .venv/bin/python bench/store_scale.py [--sizes 1000,10000,100000] [--runs 1000,10000]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bench import store_scale_runs as runs  # noqa: E402
from bench.store_scale_stats import growth, per_item  # noqa: E402
from bench.store_seed import read_templates, seed  # noqa: E402
from controlplane.store import SqliteStore  # noqa: E402
from tests.support.serve_process import Serve, free_port  # noqa: E402

DATABASE = "orchestrator.db"
# Every call of the bench comes from one host, which the per-caller rate limit (200/s) would
# refuse: the bench measures the store and memory, not the limiter.
SERVE_ENV = {
    "ORCHESTRATOR_LIMITS_REQUESTS_PER_SECOND": "1000000",
    "ORCHESTRATOR_LIMITS_BURST": "1000000",
}


def _counts(text: str) -> list[int]:
    return sorted(int(part) for part in text.split(","))


def memory_phase(data_dir: Path, counts: Sequence[int], args: argparse.Namespace) -> dict:
    serve = Serve(data_dir, free_port(), None, SERVE_ENV)
    try:
        runs.prepare(serve.address, args.replicas)
        rss = {"started": runs.rss_mib(serve.proc.pid, 0.0)}
        done, seconds = 0, {}
        for count in counts:
            seconds[count] = runs.run_executions(serve.address, done, count - done, args.threads)
            done = count
            rss[str(count)] = runs.rss_mib(serve.proc.pid)
            print(f"memory: {count} executions finished, RSS {rss[str(count)]:.1f} MiB", flush=True)
    finally:
        serve.terminate()
    size = runs.store_size(data_dir / DATABASE)
    return {
        "rss_mib": rss,
        "executions_per_s": {str(c): round((c - p) / seconds[c], 1) for p, c in _steps(counts)},
        "store": _size_figures(size),
    }


def _steps(counts: Sequence[int]) -> list[tuple[int, int]]:
    return list(zip([0, *counts[:-1]], counts, strict=True))


def _size_figures(size: runs.StoreSize) -> dict[str, Any]:
    return {
        "executions": size.executions,
        "tasks": size.tasks,
        "bytes": size.bytes_total,
        "bytes_per_task": round(per_item(size.bytes_total, size.tasks)),
        "bytes_per_execution": round(per_item(size.bytes_total, size.executions)),
        "bytes_by_table": size.bytes_by_table,
    }


def _copy_catalog(source: Path, store: SqliteStore) -> None:
    """The workflow revisions the templates ran (agents are not copied: no replicas start)."""
    import sqlite3

    conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT * FROM workflow_revisions").fetchall()
    finally:
        conn.close()
    store.execute_all([("INSERT INTO workflow_revisions VALUES (?,?,?,?,?)", r) for r in rows])


def store_phase(source: Path, data_dir: Path, sizes: Sequence[int], args: argparse.Namespace):
    templates = read_templates(source, args.templates)
    database = data_dir / DATABASE
    first_create_time = time.time() - 2 * 86400  # within the default retention (30 days)
    spacing_s = 1.0
    figures: dict[str, Any] = {"templates": len(templates), "sizes": {}}
    written = 0
    for size in sizes:
        store = SqliteStore(database, synchronous="OFF")
        try:
            if written == 0:
                _copy_catalog(source, store)
            started = time.monotonic()
            seed(
                store, templates, size - written, first_create_time + written * spacing_s, spacing_s
            )
            seeding_s = time.monotonic() - started
        finally:
            store.close()
        written = size
        print(f"store: {size} executions written in {seeding_s:.1f} s", flush=True)
        ids = runs.execution_ids(database)
        serve = Serve(data_dir, free_port(), None, SERVE_ENV)
        try:
            reads = runs.time_reads(serve.address, ids, args.list_repeats, args.get_repeats)
        finally:
            serve.terminate()
        figures["sizes"][str(size)] = {
            "seeding_s": round(seeding_s, 1),
            **{k: v for k, v in dataclasses.asdict(reads).items()},
            "store": _size_figures(runs.store_size(database)),
        }
        print(f"store: {size} measured", flush=True)
    return figures


READ_ROWS = (
    ("ListExecutions first page", "list_first"),
    ("ListExecutions page at 90% (token)", "list_deep"),
    ("ListExecutions status=SUCCEEDED", "list_status_first"),
    ("ListExecutions status=FAILED (none)", "list_rare_status_first"),
    ("GetExecution (random ids)", "get_execution"),
)


def table(report: dict[str, Any]) -> Table:
    store = report["store"]["sizes"]
    sizes = list(store)
    out = Table(title="Store and memory at scale (real gRPC, `orchestrator serve`)")
    out.add_column("figure")
    for size in sizes:
        out.add_column(f"{int(size):,} executions", justify="right")
    out.add_column("largest / smallest", justify="right")
    for label, key in READ_ROWS:
        for q in ("p50_ms", "p99_ms"):
            values = {int(s): store[s][key][q] for s in sizes}
            cells = [f"{v:.2f}" for v in values.values()]
            out.add_row(f"{label} {q[:3]} ms", *cells, f"{growth(values):.2f}x")
    per_task = {int(s): store[s]["store"]["bytes_per_task"] for s in sizes}
    out.add_row(
        "store bytes per task", *[f"{v:,}" for v in per_task.values()], f"{growth(per_task):.2f}x"
    )
    memory = report["memory"]
    counts = [c for c in memory["rss_mib"] if c != "started"]
    rss = {int(c): memory["rss_mib"][c] for c in counts}
    out.add_section()
    out.add_row(
        "server RSS MiB after N finished executions",
        *[f"{int(c):,}: {rss[int(c)]:.1f}" for c in counts],
        *([""] * (len(sizes) - len(counts))),
        f"{growth(rss):.2f}x",
    )
    real = memory["store"]
    out.add_row(
        "store bytes per task, executions run for real",
        f"{real['bytes_per_task']:,} ({real['executions']:,} executions)",
        *([""] * (len(sizes) - 1)),
        "",
    )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=_counts, default=[1000, 10_000, 100_000])
    parser.add_argument("--runs", type=_counts, default=[1000, 10_000])
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--templates", type=int, default=8)
    parser.add_argument("--list-repeats", type=int, default=100)
    parser.add_argument("--get-repeats", type=int, default=300)
    parser.add_argument("--keep", type=Path, help="keep both data dirs under this folder")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "bench_store_scale.json")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-store-scale-"))
    try:
        memory = memory_phase(work / "run", args.runs, args)
        store = store_phase(work / "run" / DATABASE, work / "seeded", args.sizes, args)
    finally:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            shutil.move(str(work), str(args.keep / work.name))
        else:
            shutil.rmtree(work, ignore_errors=True)
    report = {
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "environment": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "memory": memory,
        "store": store,
    }
    Console(width=150).print(table(report))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
