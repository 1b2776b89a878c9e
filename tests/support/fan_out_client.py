"""A fan-out of independent sleeper tasks driven through a running control plane's gRPC API,
and what its task records say: where the attempts ran, which were lost and retried."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import grpc
import yaml
from google.protobuf import json_format, struct_pb2

from controlplane.api.gen.orchestrator.v1 import agent_pb2, agent_pb2_grpc, workflow_pb2
from controlplane.api.gen.orchestrator.v1 import workflow_pb2_grpc as wf_grpc

AGENT = "sleeper"
TERMINAL = {
    workflow_pb2.EXECUTION_STATUS_SUCCEEDED,
    workflow_pb2.EXECUTION_STATUS_FAILED,
    workflow_pb2.EXECUTION_STATUS_CANCELLED,
}


@dataclass(frozen=True)
class AttemptCounts:
    """Of one execution's task records: attempts per node (by the replica that ran them and
    the node it was on), lost attempts, and tasks that needed more than one attempt."""

    per_node: dict[str, int]
    # Attempts that did not succeed, by status name (ATTEMPT_STATUS_LOST, ..._FAILED).
    unsuccessful: dict[str, int]
    lost: int
    retried_tasks: int
    tasks: int
    succeeded_tasks: int


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s:g}s")
        time.sleep(0.1)


class FanOutClient:
    def __init__(self, address: str) -> None:
        self.channel = grpc.insecure_channel(address)
        self.agents = agent_pb2_grpc.AgentServiceStub(self.channel)
        self.workflows = wf_grpc.WorkflowServiceStub(self.channel)

    def close(self) -> None:
        self.channel.close()

    def deploy_sleeper(self, replicas: int, max_concurrency: int, num_cpus: float) -> None:
        """`num_cpus` per replica: with a node's whole CPU each, Ray must put every replica on
        a node of its own (SPREAD alone is a best-effort round robin that can pair them)."""
        config = struct_pb2.Struct()
        config.update({"seconds": 0.05})
        self.agents.DeployAgent(
            agent_pb2.DeployAgentRequest(
                agent=agent_pb2.AgentSpec(
                    name=AGENT,
                    version="v1",
                    import_path="samples.agents:SleeperAgent",
                    replicas=replicas,
                    max_concurrency=max_concurrency,
                    config=config,
                    resources=agent_pb2.ReplicaResources(num_cpus=num_cpus),
                )
            ),
            timeout=120,
        )

    def delete_sleeper(self) -> None:
        """Deletes the agent: answered once its replicas are killed and Ray released their
        names (in-flight attempts drained first)."""
        self.agents.DeleteAgent(agent_pb2.DeleteAgentRequest(name=AGENT), timeout=120)

    def replica_nodes(self) -> dict[str, str]:
        """Replica name -> the node id it runs on, as the API reports it."""
        agent = self.agents.GetAgent(agent_pb2.GetAgentRequest(name=AGENT), timeout=10).agent
        return {r.name: r.node_id for r in agent.replicas}

    def start_fan_out(self, name: str, tasks: int, seconds: float) -> str:
        definition = yaml.safe_dump(
            {
                "name": name,
                "tasks": [
                    {"id": f"t{i}", "agent": AGENT, "input": {"seconds": seconds, "n": i}}
                    for i in range(tasks)
                ],
            },
            sort_keys=False,
        )
        self.workflows.CreateWorkflow(
            workflow_pb2.CreateWorkflowRequest(definition=definition), timeout=30
        )
        return str(
            self.workflows.StartExecution(
                workflow_pb2.StartExecutionRequest(workflow=name, request_id=f"run-{name}"),
                timeout=30,
            ).execution.execution_id
        )

    def execution(self, execution_id: str) -> workflow_pb2.Execution:
        return self.workflows.GetExecution(
            workflow_pb2.GetExecutionRequest(execution_id=execution_id), timeout=30
        ).execution

    def succeeded_tasks(self, execution_id: str) -> int:
        done = workflow_pb2.TASK_STATUS_SUCCEEDED
        return sum(t.status == done for t in self.execution(execution_id).tasks)

    def wait_terminal(self, execution_id: str, timeout_s: float) -> workflow_pb2.Execution:
        found: list[workflow_pb2.Execution] = []

        def terminal() -> bool:
            found[:] = [self.execution(execution_id)]
            return found[0].status in TERMINAL

        wait_until(terminal, timeout_s, f"execution {execution_id} finished")
        return found[0]

    def replica_events(self) -> list[tuple[str, str, dict[str, object]]]:
        """(type, replica, data) of the sleeper agent's events, oldest first."""
        out: list[tuple[str, str, dict[str, object]]] = []
        token = ""
        while True:
            page = self.agents.ListAgentEvents(
                agent_pb2.ListAgentEventsRequest(agent=AGENT, page_size=1000, page_token=token),
                timeout=10,
            )
            out += [(e.type, e.replica, json_format.MessageToDict(e.data)) for e in page.events]
            token = page.next_page_token
            if not token:
                return out


def count_attempts(
    execution: workflow_pb2.Execution,
    nodes_before: Mapping[str, str],
    nodes_after: Mapping[str, str],
    lost_at: float | None,
) -> AttemptCounts:
    """Attributes each attempt to the node its replica was on when the attempt started
    (before `lost_at`, epoch seconds, the replicas' first nodes; after it, their nodes then)."""
    per_node: Counter[str] = Counter()
    unsuccessful: Counter[str] = Counter()
    lost = retried = succeeded = 0
    for task in execution.tasks:
        succeeded += task.status == workflow_pb2.TASK_STATUS_SUCCEEDED
        retried += len(task.attempts) > 1
        for attempt in task.attempts:
            lost += attempt.status == workflow_pb2.ATTEMPT_STATUS_LOST
            if attempt.status != workflow_pb2.ATTEMPT_STATUS_SUCCEEDED:
                unsuccessful[workflow_pb2.AttemptStatus.Name(attempt.status)] += 1
            started = attempt.start_time.ToNanoseconds() / 1e9
            table = nodes_before if lost_at is None or started < lost_at else nodes_after
            per_node[table.get(attempt.replica, "?")] += 1
    return AttemptCounts(
        per_node=dict(per_node),
        unsuccessful=dict(unsuccessful),
        lost=lost,
        retried_tasks=retried,
        tasks=len(execution.tasks),
        succeeded_tasks=succeeded,
    )
