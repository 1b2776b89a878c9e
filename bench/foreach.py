"""for_each against the same fan-out written out task by task, through the control plane.

Starts `orchestrator serve` as a subprocess (its own local Ray) on a fresh data dir, deploys a
no-op agent, then runs, one after the other, on the same server:

1. for_each: one workflow whose task fans out over a list of N items given as input
   (`for_each: "${inputs.items}"`, no concurrency limit but the default);
2. static: one workflow with N independent tasks written out (the same agent, input {i: k}).

For each: tasks per second (N over the time from StartExecution to the terminal state), and
after both, the control plane's peak resident memory (VmHWM of the serve process) and the
store's size on disk. The order can be swapped (--static-first) to see what warm-up does.

    .venv/bin/python bench/foreach.py [--items 10000] [--static-first]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from controlplane.api.client import OrchestratorClient  # noqa: E402
from models.agents import AgentSpec  # noqa: E402
from models.executions import ExecutionStatus  # noqa: E402
from models.workflows import View  # noqa: E402
from tests.support.serve_process import Serve, free_port  # noqa: E402

AGENT = "noop"


def for_each_definition() -> str:
    return json.dumps(
        {
            "name": "bench-for-each",
            "inputs": {"items": {"type": "array"}},
            "tasks": [
                {
                    "id": "work",
                    "agent": AGENT,
                    "for_each": "${inputs.items}",
                    "input": {"i": "${item}"},
                }
            ],
        }
    )


def static_definition(items: int) -> str:
    tasks = [{"id": f"t{k}", "agent": AGENT, "input": {"i": k}} for k in range(items)]
    return json.dumps({"name": "bench-static", "tasks": tasks})


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def store_mib(data_dir: Path) -> float:
    """The store's files (the database with its WAL), not the packages beside it."""
    files = [p for p in data_dir.iterdir() if p.is_file() and p.suffix != ".lock"]
    return sum(p.stat().st_size for p in files) / (1 << 20)


def run_one(
    client: OrchestratorClient, workflow: str, inputs: dict[str, object], items: int
) -> float:
    started = time.monotonic()
    handle = client.start_execution(workflow, inputs)
    while True:
        record = client.get_execution(handle.execution_id, View.BASIC)
        if record.status.terminal:
            break
        time.sleep(0.2)
    elapsed = time.monotonic() - started
    if record.status is not ExecutionStatus.SUCCEEDED:
        raise SystemExit(f"{workflow} ended {record.status.value}: {record.error}")
    return items / elapsed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--max-concurrency", type=int, default=32)
    parser.add_argument("--static-first", action="store_true")
    parser.add_argument(
        "--only",
        choices=("for_each", "static"),
        help="run one form alone (the peak RSS is then that form's)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-foreach-") as tmp:
        data_dir = Path(tmp) / "data"
        serve = Serve(data_dir, free_port(), None, {})
        try:
            with OrchestratorClient(serve.address, timeout_s=120) as client:
                spec = AgentSpec(
                    AGENT,
                    "v1",
                    "samples.agents:EchoAgent",
                    replicas=args.replicas,
                    max_concurrency=args.max_concurrency,
                )
                client.deploy_agent(spec)
                client.create_workflow(for_each_definition())
                client.create_workflow(static_definition(args.items))
                items = list(range(args.items))
                runs = [
                    ("for_each", "bench-for-each", {"items": items}),
                    ("static", "bench-static", {}),
                ]
                if args.static_first:
                    runs.reverse()
                if args.only:
                    runs = [run for run in runs if run[0] == args.only]
                rates: dict[str, float] = {}
                for label, workflow, inputs in runs:
                    rates[label] = run_one(client, workflow, inputs, args.items)
                    print(f"{label:9s} {rates[label]:8.1f} tasks/s", flush=True)
            rss = peak_rss_mib(serve.proc.pid)
            size = store_mib(data_dir)
        finally:
            serve.terminate()
    both = "for_each" in rates and "static" in rates
    ratio = rates["for_each"] / rates["static"] if both else None
    print(
        json.dumps(
            {
                "items": args.items,
                **{f"{label}_tasks_per_s": round(rate, 1) for label, rate in rates.items()},
                "ratio_for_each_over_static": None if ratio is None else round(ratio, 3),
                "control_plane_peak_rss_mib": round(rss, 1),
                "store_mib": round(size, 1),
                "cpus": os.cpu_count(),
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
