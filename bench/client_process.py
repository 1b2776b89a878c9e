"""The benchmark's gRPC client in a process of its own, as a user's client is: its CPU is still
this machine's, but it no longer shares the server's interpreter lock (an in-process client
slowed the server's event loop by taking the lock at every streamed event)."""

from __future__ import annotations

import multiprocessing
from typing import Any


def _run(address: str, shape: Any, executions: int) -> Any:
    from bench.throughput import run_executions

    return run_executions(address, shape, executions)


class ClientProcess:
    """One spawned worker process that runs `bench.throughput.run_executions` on request."""

    def __init__(self) -> None:
        self._pool = multiprocessing.get_context("spawn").Pool(1)

    def run(self, address: str, shape: Any, executions: int) -> Any:
        return self._pool.apply(_run, (address, shape, executions))

    def close(self) -> None:
        self._pool.close()
        self._pool.join()
