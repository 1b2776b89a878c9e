"""Shared fixtures: one local Ray and one in-process control plane per test module."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import grpc
import pytest

from ray_backend import cluster
from tests.support.server_thread import ServerThread

T = TypeVar("T")


@pytest.fixture(scope="module")
def ray_namespace() -> Iterator[str]:
    namespace = f"test-{uuid.uuid4().hex[:8]}"
    if not cluster.is_connected():
        cluster.connect(None, namespace=namespace, num_cpus=2, include_dashboard=False)
    yield namespace
    cluster.disconnect()


@pytest.fixture(scope="module")
def server(ray_namespace: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    data_dir: Path = tmp_path_factory.mktemp("cp")
    thread = ServerThread(data_dir, ray_namespace)
    yield thread
    thread.stop()


@pytest.fixture(scope="module")
def channel(server: ServerThread) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server.address) as ch:
        yield ch


def eventually(check: Callable[[], T | None], timeout: float = 30, interval: float = 0.05) -> T:
    """Polls `check` until it returns a truthy value (tests never sleep for a fixed time)."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")
