"""The contract from a client that shares nothing with the server: stubs generated afresh from
proto/ into a temporary folder and used from a separate Python process that never imports the
project's code."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.support.server_thread import ServerThread

ROOT = Path(__file__).resolve().parents[2]

CLIENT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[2])  # only the freshly generated stubs, never the project
    import grpc
    from google.protobuf import struct_pb2
    from orchestrator.v1 import agent_pb2, agent_pb2_grpc, workflow_pb2, workflow_pb2_grpc

    channel = grpc.insecure_channel(sys.argv[1])
    agents = agent_pb2_grpc.AgentServiceStub(channel)
    workflows = workflow_pb2_grpc.WorkflowServiceStub(channel)
    agents.DeployAgent(agent_pb2.DeployAgentRequest(agent=agent_pb2.AgentSpec(
        name="foreign-echo", version="1.0", import_path="samples.agents:EchoAgent", replicas=1)),
        timeout=120)
    definition = '''
    name: foreign
    inputs: {who: {type: string}}
    tasks:
      - {id: hello, agent: foreign-echo, input: {greeting: "hello ${inputs.who}"}}
    outputs: {said: "${tasks.hello.output.greeting}"}
    '''
    workflows.CreateWorkflow(workflow_pb2.CreateWorkflowRequest(definition=definition), timeout=10)
    inputs = struct_pb2.Struct()
    inputs.update({"who": "world"})
    started = workflows.StartExecution(
        workflow_pb2.StartExecutionRequest(workflow="foreign", inputs=inputs), timeout=10)
    watch = workflow_pb2.WatchExecutionRequest(execution_id=started.execution.execution_id)
    events = [r.event.type for r in workflows.WatchExecution(watch, timeout=60)]
    done = workflows.GetExecution(workflow_pb2.GetExecutionRequest(
        execution_id=started.execution.execution_id), timeout=10).execution
    print(workflow_pb2.ExecutionStatus.Name(done.status), done.outputs["said"], events[-1])
    """
)


def generate_stubs(out: Path) -> None:
    """Runs protoc in its own process: grpc_tools' bundled protobuf must not share a process
    with OR-Tools' (importing both aborts the interpreter)."""
    spec = importlib.util.find_spec("grpc_tools")
    assert spec is not None and spec.origin is not None
    well_known = str(Path(spec.origin).parent / "_proto")
    protos = sorted(str(p.relative_to(ROOT / "proto")) for p in (ROOT / "proto").rglob("*.proto"))
    args = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{ROOT / 'proto'}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        *protos,
    ]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for folder in (out / "orchestrator", out / "orchestrator" / "v1"):
        (folder / "__init__.py").touch()


def test_client_generated_separately_drives_a_workflow(
    server: ServerThread, tmp_path: Path
) -> None:
    generate_stubs(tmp_path)
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    result = subprocess.run(
        [sys.executable, "-I", str(script), server.address, str(tmp_path)],  # -I: isolated
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "EXECUTION_STATUS_SUCCEEDED",
        "hello",
        "world",
        "EXECUTION_SUCCEEDED",
    ]
