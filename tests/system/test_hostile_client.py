"""A hostile or careless client against `orchestrator serve` on a local Ray: every request of
the kinds that once froze, hung or poisoned the control plane, sent one after another while a
thread checks health every 20 ms. Each is refused with INVALID_ARGUMENT naming the cause or
accepted and readable back; health keeps answering (p99 under 100 ms); the server logs no
traceback."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from controlplane.api.client import ClientError, OrchestratorClient
from controlplane.api.gen.orchestrator.v1 import workflow_pb2, workflow_pb2_grpc
from models.agents import AgentSpec, ReplicaResources
from models.executions import ExecutionStatus
from models.workflows import View
from tests.support.serve_process import Serve, free_port

PROBE_INTERVAL_S = 0.02
GREEDY = {"resources": ReplicaResources(num_cpus=1e6)}
DEFINITION_STAGES = {
    "alias bomb",
    "deep nesting",
    "errors echoing huge inputs",
    "5,000-task definition",
}
OUTPUT_CHARS = 1_900_000


# Runs in its own process: in the test's process, decoding a 10 MB response would hold the
# GIL and delay the probe, and the probe would measure the test instead of the server.
PROBE = """
import json, sys, threading, time
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
stub = health_pb2_grpc.HealthStub(grpc.insecure_channel(sys.argv[1]))
samples, failures = [], []
while not stop.is_set():
    started = time.monotonic()
    try:
        status = stub.Check(health_pb2.HealthCheckRequest(), timeout=2).status
        samples.append((time.monotonic() - started, time.time()))
        if status != health_pb2.HealthCheckResponse.SERVING:
            failures.append(f"status {status}")
    except grpc.RpcError as exc:
        failures.append(f"{exc.code().name}: {exc.details()}")
    stop.wait(float(sys.argv[2]))
print(json.dumps({"samples": samples, "failures": failures}))
"""


class HealthProbe:
    """Checks health every 20 ms from another process; keeps each answer's latency and the
    stage of the test it fell in."""

    def __init__(self, address: str) -> None:
        self._address = address
        self._stages: list[tuple[float, str]] = [(0.0, "start")]
        self.latencies: list[tuple[float, str]] = []
        self.failures: list[str] = []

    @property
    def stage(self) -> str:
        return self._stages[-1][1]

    @stage.setter
    def stage(self, name: str) -> None:
        self._stages.append((time.time(), name))

    def __enter__(self) -> HealthProbe:
        argv = [sys.executable, "-c", PROBE, self._address, str(PROBE_INTERVAL_S)]
        self._proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        return self

    def __exit__(self, *exc: object) -> None:
        out, _ = self._proc.communicate("", timeout=60)
        result = json.loads(out)
        self.failures = result["failures"]
        for latency, at in result["samples"]:
            stage = [name for started, name in self._stages if started <= at][-1]
            self.latencies.append((latency, stage))

    def p99(self, stages: set[str]) -> float:
        chosen = [latency for latency, stage in self.latencies if stage in stages]
        return statistics.quantiles(chosen, n=100, method="inclusive")[98]

    def slowest(self) -> str:
        worst = sorted(self.latencies)[-5:]
        return ", ".join(f"{latency * 1000:.0f} ms in {stage}" for latency, stage in worst)


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    data_dir: Path = tmp_path_factory.mktemp("hostile")
    server = Serve(data_dir, free_port(), None, {})
    try:
        with OrchestratorClient(server.address, timeout_s=120) as client:
            client.deploy_agent(AgentSpec("echo", "v1", "samples.agents:EchoAgent"))
            client.deploy_agent(AgentSpec("payload", "v1", "samples.agents:PayloadAgent"))
        yield server
    finally:
        server.terminate()


def refused(call: Any, *args: Any) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call(*args)
    assert caught.value.code_name == "INVALID_ARGUMENT", caught.value
    assert len(caught.value.message) < 2000
    return caught.value


def billion_laughs(levels: int = 9) -> str:
    text = 'lol0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for level in range(1, levels + 1):
        text += f"lol{level}: &l{level} [{','.join([f'*l{level - 1}'] * 9)}]\n"
    return "name: bomb\ntasks: [{id: a, agent: echo}]\n" + text


def chain(count: int, cycle: bool) -> str:
    tasks = [{"id": f"t{i}", "agent": "echo", "depends_on": [f"t{i - 1}"]} for i in range(count)]
    if cycle:
        tasks[0]["depends_on"] = [f"t{count - 1}"]
    else:
        del tasks[0]["depends_on"]
    return json.dumps({"name": "wide", "tasks": tasks})


def the_table(
    client: OrchestratorClient, raw: workflow_pb2_grpc.WorkflowServiceStub, probe: HealthProbe
) -> None:
    probe.stage = "alias bomb"  # refused before it expands
    assert not client.validate_workflow(billion_laughs()).valid
    refused(client.create_workflow, billion_laughs())

    probe.stage = "YAML 1.1 keys and dates"  # plain strings, and the execution ends
    client.create_workflow(
        "name: dates\ninputs: {day: {type: string, default: 2024-01-01}}\n"
        'tasks: [{id: a, agent: echo, input: {on: "${inputs.day}"}}]\n'
        'outputs: {on: yes, 2024-01-01: "${tasks.a.output.on}"}\n'
    )
    done = client.start_execution("dates").result(timeout=60)
    assert done.status is ExecutionStatus.SUCCEEDED, done.error
    assert done.outputs == {"on": "yes", "2024-01-01": "2024-01-01"}

    probe.stage = "deep nesting"  # in a definition (90, 10,000 levels) and in inputs
    for depth in (90, 10_000):
        deep = "[" * depth + "]" * depth
        text = f"name: deep\ntasks: [{{id: a, agent: echo, input: {deep}}}]"
        refused(client.create_workflow, text)
    client.create_workflow("name: any\ninputs: {x: {type: any}}\ntasks: [{id: a, agent: echo}]\n")
    request = workflow_pb2.StartExecutionRequest(workflow="any")
    inner = request.inputs.fields["x"]
    for _ in range(30):
        inner = inner.struct_value.fields["a"]
    inner.number_value = 1
    with pytest.raises(grpc.RpcError) as caught:
        raw.StartExecution(request, timeout=30)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT

    probe.stage = "NaN output"  # the task fails with a typed error; all stays readable
    client.create_workflow("name: nan\ntasks: [{id: a, agent: payload, input: {score: nan}}]\n")
    failed = client.start_execution("nan").result(timeout=60)
    assert failed.status is ExecutionStatus.FAILED
    assert failed.tasks["a"].error is not None
    assert failed.tasks["a"].error.type == "OutputNotSerializable"
    assert client.list_executions("nan", view=View.FULL)[0].status is ExecutionStatus.FAILED

    probe.stage = "five outputs near the cap"  # every read fits
    tasks = "".join(
        f"  - {{id: t{i}, agent: payload, input: {{tag: {i}, chars: {OUTPUT_CHARS}}}}}\n"
        for i in range(5)
    )
    outputs = ", ".join(f"o{i}: '${{tasks.t{i}.output}}'" for i in range(5))
    client.create_workflow(f"name: five\ntasks:\n{tasks}outputs: {{{outputs}}}\n")
    big = client.start_execution("five").result(timeout=120)
    assert big.status is ExecutionStatus.SUCCEEDED, big.error
    assert big.outputs is not None and len(big.outputs["o4"]["text"]) == OUTPUT_CHARS
    assert client.get_execution(big.execution_id).tasks["t0"].output_omitted
    assert client.list_executions("five", view=View.FULL)[0].outputs_omitted

    probe.stage = "errors echoing huge inputs"  # INVALID_ARGUMENT, bounded
    refused(client.create_workflow, f"name: {'n' * 100_000}\ntasks: [{{id: a, agent: echo}}]\n")
    unknown = "".join(f"f{i}: 1\n" for i in range(20_000))
    refused(client.create_workflow, f"name: u\ntasks: [{{id: a, agent: echo}}]\n{unknown}")
    refused(client.create_workflow, chain(5000, cycle=True))

    probe.stage = "agent start failures"  # one line, root cause first, at once
    started = time.monotonic()
    with pytest.raises(ClientError) as caught:
        client.deploy_agent(AgentSpec("greedy", "v1", "samples.agents:EchoAgent", **GREEDY))
    assert caught.value.code_name == "FAILED_PRECONDITION"
    assert "exceeds the largest node (2 CPUs)" in caught.value.message
    with pytest.raises(ClientError) as caught:
        client.deploy_agent(AgentSpec("keyless", "v1", "tests.support.broken_agents:NeedsKey"))
    assert caught.value.code_name == "FAILED_PRECONDITION"
    assert "ValueError: api_key is required" in caught.value.message
    assert "\n" not in caught.value.message and "\x1b" not in caught.value.message
    assert time.monotonic() - started < 30  # not the 60 s readiness deadline

    probe.stage = "5,000-task definition"  # validated off the event loop
    assert client.validate_workflow(chain(5000, cycle=False)).valid


def test_hostile_requests_never_stall_health_or_poison_reads(serve: Serve) -> None:
    with (
        OrchestratorClient(serve.address, timeout_s=60) as client,
        grpc.insecure_channel(serve.address) as channel,
        HealthProbe(serve.address) as probe,
    ):
        the_table(client, workflow_pb2_grpc.WorkflowServiceStub(channel), probe)
        every = list(client.iter_executions(view=View.FULL))
        assert {e.workflow for e in every} == {"dates", "nan", "five"}
    assert not probe.failures, probe.failures[:5]
    assert len(probe.latencies) > 50
    # While hostile definitions are refused, health answers as fast as ever; the rest of the
    # table (agents handing back megabytes on a 2-core machine) may slow it, never stall it.
    p99 = probe.p99(DEFINITION_STAGES)
    print(f"health p99 {p99 * 1000:.1f} ms while definitions were refused; {probe.slowest()}")
    assert p99 < 0.1, f"health p99 {p99 * 1000:.0f} ms; slowest: {probe.slowest()}"
    assert max(latency for latency, _ in probe.latencies) < 1, probe.slowest()
    assert "Traceback" not in serve.log.read_text()
