"""Two namespaces deploy an agent of the same name with different classes on real local Ray:
each has its own detached actors, a workflow started in each runs on its own, and removing an
agent of the default namespace named like the other namespace leaves that namespace's
replicas alone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import ray

from controlplane.api.client import OrchestratorClient
from models.agents import AgentSpec
from models.executions import ExecutionStatus
from tests.integration.conftest import eventually
from tests.support.server_thread import ServerThread

WORKFLOW = """
name: build
tasks:
  - id: work
    agent: worker
    input: {spec: "app", kind: "api"}
outputs: {result: "${tasks.work.output}"}
"""


@pytest.fixture(scope="module")
def clients(server: ServerThread) -> Iterator[dict[str, OrchestratorClient]]:
    made = {ns: OrchestratorClient(server.address, namespace=ns) for ns in ("team-a", "team-b")}
    made["default"] = OrchestratorClient(server.address)
    yield made
    for client in made.values():
        client.close()


def live_actor_names(ray_namespace: str) -> set[str]:
    return {
        entry["name"]
        for entry in ray.util.list_named_actors(all_namespaces=True)
        if entry["namespace"] == ray_namespace
    }


def test_each_namespace_runs_its_own_agent_of_the_same_name(
    clients: dict[str, OrchestratorClient], ray_namespace: str
) -> None:
    a, b, default = clients["team-a"], clients["team-b"], clients["default"]
    a.deploy_agent(
        AgentSpec("worker", "v1", "samples.agents:CodeGenAgent", config={"language": "go"})
    )
    b.deploy_agent(AgentSpec("worker", "v1", "samples.agents:TesterAgent", replicas=2))
    # An agent of the default namespace whose name is the other namespace's.
    default.deploy_agent(AgentSpec("team-a", "v1", "samples.agents:EchoAgent"))

    mine, theirs = a.get_agent("worker"), b.get_agent("worker")
    assert len(mine.replicas) == 1 and len(theirs.replicas) == 2
    assert all(r.name.startswith("team-a/worker/") for r in mine.replicas)
    assert all(r.name.startswith("team-b/worker/") for r in theirs.replicas)
    replicas = {r.name for r in mine.replicas} | {r.name for r in theirs.replicas}
    assert replicas <= live_actor_names(ray_namespace)

    a.create_workflow(WORKFLOW)
    b.create_workflow(WORKFLOW)
    runs = {"team-a": a.start_execution("build"), "team-b": b.start_execution("build")}
    done = {ns: handle.result(timeout=120) for ns, handle in runs.items()}
    assert all(d.status is ExecutionStatus.SUCCEEDED for d in done.values()), done
    assert done["team-a"].outputs is not None and done["team-b"].outputs is not None
    assert done["team-a"].outputs["result"]["language"] == "go"  # CodeGenAgent
    assert done["team-b"].outputs["result"]["passed"] is True  # TesterAgent
    assert done["team-a"].tasks["work"].attempts[-1].replica in {r.name for r in mine.replicas}
    assert done["team-b"].tasks["work"].attempts[-1].replica in {r.name for r in theirs.replicas}

    # Removing the default namespace's `team-a` kills its replicas only.
    default.delete_agent("team-a")
    eventually(lambda: not any(n.startswith("team-a/v1/") for n in live_actor_names(ray_namespace)))
    assert replicas <= live_actor_names(ray_namespace)
    assert a.get_agent("worker").state.value == "READY"

    b.delete_agent("worker")
    eventually(lambda: not any(n.startswith("team-b/") for n in live_actor_names(ray_namespace)))
    assert {r.name for r in mine.replicas} <= live_actor_names(ray_namespace)
    again = a.start_execution("build").result(timeout=120)
    assert again.status is ExecutionStatus.SUCCEEDED
