"""Shared fixtures: a local Ray and one in-process control plane per test module.

A module whose control plane left nothing on its local Ray (no live actor, no placement group,
every resource free again) hands that Ray on to the next module instead of stopping it, so
the modules in a row that use these fixtures pay for one Ray start instead of one each. A
module that left anything behind, or that brings its own cluster, gets a new local Ray."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import grpc
import pytest
import ray
from ray._private import state as ray_state

from ray_backend import cluster
from tests.support.server_thread import ServerThread

T = TypeVar("T")


# The local Ray this conftest started and may hand on: (its GCS address, its namespace).
_handed_on: dict[str, str] = {}
CLEAN_WAIT_S = 5.0


@pytest.fixture(scope="package", autouse=True)
def _stop_the_last_local_ray() -> Iterator[None]:
    yield
    if _handed_on:
        cluster.disconnect()


@pytest.fixture(scope="module")
def ray_namespace() -> Iterator[str]:
    """The Ray namespace of the module's control plane: that of the driver's connection (the
    control plane finds its placement groups by name in the driver's namespace)."""
    if not _reusable():
        if cluster.is_connected():
            cluster.disconnect()
        namespace = f"test-{uuid.uuid4().hex[:8]}"
        cluster.connect(None, namespace=namespace, num_cpus=2, include_dashboard=False)
        _handed_on.clear()
        _handed_on.update(gcs=_gcs_address(), namespace=namespace)
    yield _handed_on["namespace"]
    if not (_reusable() and _left_clean()):
        _handed_on.clear()
        cluster.disconnect()


def _gcs_address() -> str:
    return str(ray.get_runtime_context().gcs_address)


def _reusable() -> bool:
    """Connected to the very local Ray this conftest started (a module with a cluster of its
    own, or one that restarted Ray, leaves another connection or none)."""
    return bool(_handed_on) and cluster.is_connected() and _gcs_address() == _handed_on["gcs"]


def _left_clean() -> bool:
    """Waits (briefly) until no actor is alive or starting and every resource is free, with no
    placement group left: what a fresh local Ray would offer the next module. A placement
    group the module left (a pool) stays, so that is not waited for."""
    deadline = time.monotonic() + CLEAN_WAIT_S
    while time.monotonic() < deadline:
        groups = ray.util.placement_group_table()
        if any(g.get("state") != "REMOVED" for g in groups.values()):
            return False
        actors = ray_state.state.actor_table(None)
        if (
            all(a.get("State") == "DEAD" for a in actors.values())
            and ray.available_resources() == ray.cluster_resources()
        ):
            return True
        time.sleep(0.1)
    return False


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
