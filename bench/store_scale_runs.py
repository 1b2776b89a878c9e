"""What bench/store_scale.py does against a real `orchestrator serve`: run tiny executions
through the API, read the server's memory, time ListExecutions and GetExecution over the
socket, and size the store on disk."""

from __future__ import annotations

import json
import random
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from bench.store_scale_stats import Latency, deep_position, vm_rss_kib
from controlplane.api.client import OrchestratorClient
from controlplane.api.gen.orchestrator.v1 import workflow_pb2, workflow_pb2_grpc
from models.agents import AgentSpec
from models.executions import ExecutionStatus

AGENT = "noop"
WORKFLOW = "bench-store-scale"
PAGE_SIZE = 50
WALK_PAGE_SIZE = 1000  # the largest page: the walk to a deep token takes few calls


def workflow_definition() -> str:
    """A small real workflow: two tasks in parallel, a third over both results."""
    return json.dumps(
        {
            "name": WORKFLOW,
            "inputs": {"project": {"type": "string"}},
            "tasks": [
                {"id": "frontend", "agent": AGENT, "input": {"spec": "${inputs.project}"}},
                {"id": "backend", "agent": AGENT, "input": {"spec": "${inputs.project}"}},
                {
                    "id": "test",
                    "agent": AGENT,
                    "depends_on": ["frontend", "backend"],
                    "input": {"ui": "${tasks.frontend.output}", "api": "${tasks.backend.output}"},
                },
            ],
            "outputs": {"report": "${tasks.test.output}"},
        }
    )


def prepare(address: str, replicas: int) -> None:
    """Deploys the no-op agent and registers the workflow."""
    with OrchestratorClient(address, timeout_s=120) as client:
        client.deploy_agent(
            AgentSpec(
                AGENT, "v1", "samples.agents:EchoAgent", replicas=replicas, max_concurrency=32
            )
        )
        client.create_workflow(workflow_definition())


def run_executions(address: str, first: int, count: int, threads: int) -> float:
    """Runs `count` executions to their end, `threads` at a time, each started and then
    watched to its terminal event; returns the seconds it took. Any that fails stops the bench."""

    def one_thread(indexes: range) -> None:
        with OrchestratorClient(address, timeout_s=120) as client:
            for k in indexes:
                handle = client.start_execution(WORKFLOW, {"project": f"p{k}"})
                for _ in handle.watch():
                    pass
                record = handle.get()
                if record.status is not ExecutionStatus.SUCCEEDED:
                    raise SystemExit(f"execution {k} ended {record.status.value}: {record.error}")

    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        shares = [range(first + t, first + count, threads) for t in range(threads)]
        for future in [pool.submit(one_thread, share) for share in shares]:
            future.result()
    return time.monotonic() - started


def rss_mib(pid: int, settle_s: float = 2.0) -> float:
    """The process's resident memory once the last executions' work has settled."""
    time.sleep(settle_s)
    return vm_rss_kib(Path(f"/proc/{pid}/status").read_text()) / 1024


@dataclass(frozen=True)
class StoreLatencies:
    list_first: Latency
    list_deep: Latency
    list_status_first: Latency
    list_rare_status_first: Latency
    get_execution: Latency
    deep_position: int


def _timed(call: Callable[[], Any], repeats: int, warm_up: int = 5) -> list[float]:
    for _ in range(warm_up):
        call()
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return seconds


def _deep_token(stub: Any, position: int) -> str:
    """The page token after `position` executions (walked in the largest pages)."""
    token, seen = "", 0
    while seen < position:
        size = min(WALK_PAGE_SIZE, position - seen)
        reply = stub.ListExecutions(
            workflow_pb2.ListExecutionsRequest(page_size=size, page_token=token), timeout=120
        )
        token, seen = reply.next_page_token, seen + len(reply.executions)
        if not token:
            raise SystemExit(f"the listing ended after {seen} executions, before {position}")
    return token


def time_reads(address: str, ids: list[str], list_repeats: int, get_repeats: int) -> StoreLatencies:
    """ListExecutions (first page; a page 90% of the way down, through its token; the first
    page of a status filter all match, and of one none matches) and GetExecution of random
    ids, over the server's socket."""
    succeeded = workflow_pb2.EXECUTION_STATUS_SUCCEEDED
    failed = workflow_pb2.EXECUTION_STATUS_FAILED  # none in these stores: the filter's worst case
    with grpc.insecure_channel(address) as channel:
        stub = workflow_pb2_grpc.WorkflowServiceStub(channel)
        first = workflow_pb2.ListExecutionsRequest(page_size=PAGE_SIZE)
        list_first = _timed(lambda: stub.ListExecutions(first, timeout=60), list_repeats)
        position = deep_position(len(ids), 0.9, PAGE_SIZE)
        deep = workflow_pb2.ListExecutionsRequest(
            page_size=PAGE_SIZE, page_token=_deep_token(stub, position)
        )
        list_deep = _timed(lambda: stub.ListExecutions(deep, timeout=60), list_repeats)
        status = workflow_pb2.ListExecutionsRequest(page_size=PAGE_SIZE, statuses=[succeeded])
        list_status = _timed(lambda: stub.ListExecutions(status, timeout=60), list_repeats)
        rare = workflow_pb2.ListExecutionsRequest(page_size=PAGE_SIZE, statuses=[failed])
        list_rare = _timed(lambda: stub.ListExecutions(rare, timeout=60), list_repeats)
        picks = iter(random.Random(7).choices(ids, k=get_repeats + 5))
        get = _timed(
            lambda: stub.GetExecution(
                workflow_pb2.GetExecutionRequest(execution_id=next(picks)), timeout=60
            ),
            get_repeats,
        )
    return StoreLatencies(
        Latency.of_seconds(list_first),
        Latency.of_seconds(list_deep),
        Latency.of_seconds(list_status),
        Latency.of_seconds(list_rare),
        Latency.of_seconds(get),
        position,
    )


@dataclass(frozen=True)
class StoreSize:
    executions: int
    tasks: int
    bytes_total: int
    bytes_by_table: dict[str, int]


def store_size(database: Path) -> StoreSize:
    """The store's bytes (database + WAL, after a checkpoint that empties the WAL), its row
    counts, and the bytes each table and index holds (SQLite's dbstat)."""
    conn = sqlite3.connect(database)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        executions = conn.execute("SELECT count(*) FROM executions").fetchone()[0]
        tasks = conn.execute("SELECT count(*) FROM tasks").fetchone()[0]
        by_table = dict(conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"))
    finally:
        conn.close()
    wal = database.with_name(database.name + "-wal")
    total = database.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    return StoreSize(int(executions), int(tasks), total, {k: int(v) for k, v in by_table.items()})


def execution_ids(database: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return [str(row[0]) for row in conn.execute("SELECT execution_id FROM executions")]
    finally:
        conn.close()
