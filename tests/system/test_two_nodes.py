"""`orchestrator serve` on a two-node Ray cluster of this machine (a head and a second
`ray start --address` node, one CPU each), joined through RAY_ADDRESS: an agent's two replicas
of one CPU each land one per node, and losing the second node in the middle of a fan-out loses
no task (the attempts that were on it are retried on the survivor) and is reported as an agent
event naming the lost node.

The tests share the head node: each one starts on the head and a second node that was never
lost (one renewed after a test that lost it) with a control plane of its own, whose agent is
deleted at the end so that no replica is left to restart on the next test's nodes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from controlplane.api.gen.orchestrator.v1 import workflow_pb2
from tests.support.fan_out_client import FanOutClient, count_attempts, wait_until
from tests.support.serve_process import Serve, free_port
from tests.support.two_nodes import TwoNodes

# About 8 s of work on the two replicas (4 at a time each), so the node goes mid-run.
TASKS = 200
TASK_SECONDS = 0.3


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoNodes]:
    nodes = TwoNodes(tmp_path_factory.mktemp("ray"))
    try:
        yield nodes
    finally:
        nodes.stop()


@pytest.fixture
def cluster(two_nodes: TwoNodes) -> TwoNodes:
    """The head and a second node that was never lost (the test before may have lost one)."""
    two_nodes.renew_second()
    return two_nodes


@pytest.fixture
def client(cluster: TwoNodes, tmp_path: Path) -> Iterator[FanOutClient]:
    """`serve` joined to the cluster through RAY_ADDRESS, with two sleeper replicas of one CPU
    each (so Ray must place one per node). At the end the agent is deleted (its replicas are
    detached: they would outlive `serve`)."""
    env = {**cluster.auth_env, "RAY_ADDRESS": cluster.address}
    serve = Serve(tmp_path / "data", free_port(), None, env)
    client = FanOutClient(serve.address)
    try:
        client.deploy_sleeper(replicas=2, max_concurrency=4, num_cpus=1)
        yield client
        client.delete_sleeper()
    finally:
        client.close()
        serve.terminate()


def test_losing_the_second_node_mid_fan_out_loses_no_task(
    cluster: TwoNodes, client: FanOutClient
) -> None:
    nodes_before = client.replica_nodes()
    assert sorted(nodes_before.values()) == sorted(
        [cluster.head.node_id, cluster.second.node_id]
    ), f"replicas not spread over both nodes: {nodes_before}"

    execution_id = client.start_fan_out("two-node-fan-out", TASKS, TASK_SECONDS)
    wait_until(
        lambda: client.succeeded_tasks(execution_id) >= TASKS // 5,
        30,
        "a fifth of the fan-out done",
    )
    lost_at = time.time()
    cluster.lose_second()

    execution = client.wait_terminal(execution_id, 40)
    assert execution.status == workflow_pb2.EXECUTION_STATUS_SUCCEEDED, execution.error
    counts = count_attempts(execution, nodes_before, client.replica_nodes(), lost_at)
    assert counts.succeeded_tasks == TASKS
    assert counts.lost + counts.retried_tasks > 0, counts
    print(f"attempts: {counts}")  # shown with -s: how much the loss cost this run

    on_second = next(r for r, n in nodes_before.items() if n == cluster.second.node_id)
    wait_until(
        lambda: any(
            t == "REPLICA_STOPPED"
            and replica == on_second
            and data.get("node_id") == cluster.second.node_id
            and cluster.second.node_id in str(data.get("reason", ""))
            for t, replica, data in client.replica_events()
        ),
        20,
        "the node loss reported as REPLICA_STOPPED with the lost node",
    )
    # The survivor's one CPU is its own replica's: the lost replica waits for a node.
    assert client.replica_nodes().keys() == nodes_before.keys()


def test_a_replica_lost_with_its_node_restarts_on_a_node_that_joins(
    cluster: TwoNodes, client: FanOutClient
) -> None:
    nodes_before = client.replica_nodes()
    on_second = next(r for r, n in nodes_before.items() if n == cluster.second.node_id)
    cluster.lose_second()
    wait_until(
        lambda: any(
            t == "REPLICA_STOPPED" and data.get("node_id") == cluster.second.node_id
            for t, _, data in client.replica_events()
        ),
        30,
        "the idle replica's node loss reported (found by its health probe)",
    )
    third = cluster.add_node("third")
    wait_until(
        lambda: client.replica_nodes().get(on_second) == third,
        60,
        "the lost replica restarted by Ray on the node that joined",
    )
    wait_until(
        lambda: any(
            t == "REPLICA_STARTED"
            and replica == on_second
            and data.get("node_id") == third
            and cluster.second.node_id in str(data.get("reason", ""))
            for t, replica, data in client.replica_events()
        ),
        20,
        "the restart reported as REPLICA_STARTED on the new node",
    )
