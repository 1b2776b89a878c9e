"""A fan-out through `orchestrator serve` on a two-node Ray cluster of this machine.

Starts a head and a second node (`ray start`, one CPU each by default, tests/support/two_nodes.py),
then `serve` joined to them through RAY_ADDRESS, deploys the sleeper agent with 2 replicas of a
node's whole CPU each (so one per node) and runs, one after the other:

1. steady: a fan-out of N independent tasks (`samples.agents:SleeperAgent`, `--seconds` each);
2. node lost: the same fan-out, the second node SIGKILLed once `--lose-at` of it has succeeded.

For each: tasks per second (N over StartExecution to the terminal state, polled every 0.1 s),
the attempts per node (by the node their replica was on when they started), lost attempts,
retried tasks; for the second run, the time from the loss to the end, and to the node loss
being listed as an agent event (REPLICA_STOPPED naming the node).

    .venv/bin/python bench/two_node.py [--tasks 600] [--seconds 0.02] [--lose-at 0.3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from controlplane.api.gen.orchestrator.v1 import workflow_pb2  # noqa: E402
from tests.support.fan_out_client import (  # noqa: E402
    AttemptCounts,
    FanOutClient,
    count_attempts,
    wait_until,
)
from tests.support.serve_process import Serve, free_port  # noqa: E402
from tests.support.two_nodes import TwoNodes  # noqa: E402

RUN_TIMEOUT_S = 300.0
EVENT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class RunResult:
    name: str
    tasks: int
    status: str
    seconds: float
    tasks_per_s: float
    attempts: AttemptCounts
    loss_to_end_s: float | None = None
    # From the loss to the REPLICA_STOPPED event naming the node being listed (polled after
    # the run, so at least loss_to_end_s); None if it never came within the deadline.
    loss_to_event_s: float | None = None


def run(
    client: FanOutClient,
    cluster: TwoNodes,
    name: str,
    tasks: int,
    seconds: float,
    lose_at: float | None,
) -> RunResult:
    nodes_before = client.replica_nodes()
    started = time.monotonic()
    execution_id = client.start_fan_out(name, tasks, seconds)
    lost_at_epoch: float | None = None
    lost_at: float | None = None
    if lose_at is not None:
        wait_until(
            lambda: client.succeeded_tasks(execution_id) >= tasks * lose_at,
            RUN_TIMEOUT_S,
            f"{lose_at:.0%} of {name} done",
        )
        lost_at_epoch, lost_at = time.time(), time.monotonic()
        cluster.lose_second()
    execution = client.wait_terminal(execution_id, RUN_TIMEOUT_S)
    elapsed = time.monotonic() - started
    counts = count_attempts(execution, nodes_before, client.replica_nodes(), lost_at_epoch)
    loss_to_end = None if lost_at is None else time.monotonic() - lost_at
    loss_to_event = None
    if lost_at is not None:
        try:
            wait_until(
                lambda: any(
                    kind == "REPLICA_STOPPED" and data.get("node_id") == cluster.second.node_id
                    for kind, _, data in client.replica_events()
                ),
                EVENT_TIMEOUT_S,
                "the node loss reported",
            )
            loss_to_event = time.monotonic() - lost_at
        except AssertionError:
            pass
    return RunResult(
        name=name,
        tasks=tasks,
        status=workflow_pb2.ExecutionStatus.Name(execution.status),
        seconds=elapsed,
        tasks_per_s=tasks / elapsed,
        attempts=counts,
        loss_to_end_s=loss_to_end,
        loss_to_event_s=loss_to_event,
    )


def render(results: Sequence[RunResult], head: str, second: str) -> str:
    names = {head: "head", second: "second"}
    lines = [
        "| run | status | tasks | time | tasks/s | attempts per node | attempts not succeeded "
        "| retried tasks | loss to end | loss to event |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        named = {names.get(node, node[:8]): count for node, count in r.attempts.per_node.items()}
        per_node = ", ".join(f"{node} {count}" for node, count in sorted(named.items()))
        loss = "-" if r.loss_to_end_s is None else f"{r.loss_to_end_s:.2f} s"
        if r.loss_to_end_s is None:
            reported = "-"
        else:
            reported = "none" if r.loss_to_event_s is None else f"{r.loss_to_event_s:.2f} s"
        failed = ", ".join(
            f"{status.removeprefix('ATTEMPT_STATUS_')} {count}"
            for status, count in sorted(r.attempts.unsuccessful.items())
        )
        lines.append(
            f"| {r.name} | {r.status.removeprefix('EXECUTION_STATUS_')} | {r.tasks} "
            f"| {r.seconds:.2f} s | {r.tasks_per_s:.0f} | {per_node} | {failed or 0} "
            f"| {r.attempts.retried_tasks} | {loss} | {reported} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=600, help="tasks of each fan-out")
    parser.add_argument("--seconds", type=float, default=0.02, help="each task's sleep")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--max-concurrency", type=int, default=4, help="attempts per replica")
    parser.add_argument("--cpus-per-node", type=int, default=1)
    parser.add_argument(
        "--lose-at", type=float, default=0.3, help="share of tasks done when the node goes"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    # `serve` and the Ray workers import this checkout's code.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    with tempfile.TemporaryDirectory(prefix="bench-two-node-") as tmp:
        work = Path(tmp)
        cluster = TwoNodes(work, cpus_per_node=args.cpus_per_node)
        serve: Serve | None = None
        try:
            env = {**cluster.auth_env, "RAY_ADDRESS": cluster.address}
            serve = Serve(work / "data", free_port(), None, env)
            client = FanOutClient(serve.address)
            client.deploy_sleeper(args.replicas, args.max_concurrency, args.cpus_per_node)
            placed = client.replica_nodes()
            print(f"replicas: {placed}", flush=True)
            results = [
                run(client, cluster, "steady", args.tasks, args.seconds, None),
                run(client, cluster, "node-lost", args.tasks, args.seconds, args.lose_at),
            ]
            client.close()
        finally:
            if serve is not None:
                serve.terminate()
            cluster.stop()
    print(
        f"two nodes ({args.cpus_per_node} CPU each), {args.replicas} replicas x "
        f"{args.max_concurrency} attempts, {args.tasks} tasks of {args.seconds:g} s; second "
        f"node SIGKILLed at {args.lose_at:.0%} done in the node-lost run"
    )
    print(render(results, cluster.head.node_id, cluster.second.node_id))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
