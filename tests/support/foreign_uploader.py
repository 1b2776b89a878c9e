"""A client sharing nothing with the project: run as `python -I foreign_uploader.py ADDRESS
STUBS_DIR` with stubs generated afresh from proto/. It zips an agent with the standard library,
uploads it with UploadPackage (twice), deploys it with the answered URI as working_dir, runs a
workflow on it and prints what it saw."""

import hashlib
import io
import sys
import zipfile

sys.path.insert(0, sys.argv[2])  # only the freshly generated stubs, never the project

import grpc
from google.protobuf import struct_pb2
from orchestrator.v1 import (
    agent_pb2,
    agent_pb2_grpc,
    workflow_pb2,
    workflow_pb2_grpc,
)

AGENT = """
class Hello:
    def __init__(self, **config):
        pass

    def execute(self, input, context):
        return {"said": "hi " + input["who"]}
"""
WORKFLOW = """
name: hello
inputs: {who: {type: string}}
tasks:
  - {id: hi, agent: hello, input: {who: "${inputs.who}"}}
outputs: {said: "${tasks.hi.output.said}"}
"""

buffer = io.BytesIO()
with zipfile.ZipFile(buffer, "w") as archive:
    archive.writestr("hello_agent.py", AGENT)
data = buffer.getvalue()
digest = hashlib.sha256(data).hexdigest()


def chunks():
    yield agent_pb2.UploadPackageRequest(sha256=digest, size_bytes=len(data), data=data[:100])
    yield agent_pb2.UploadPackageRequest(data=data[100:])


channel = grpc.insecure_channel(sys.argv[1])
agents = agent_pb2_grpc.AgentServiceStub(channel)
workflows = workflow_pb2_grpc.WorkflowServiceStub(channel)
stored = agents.UploadPackage(chunks(), timeout=30)
again = agents.UploadPackage(chunks(), timeout=30)
env = struct_pb2.Struct()
env.update({"working_dir": stored.uri})
spec = agent_pb2.AgentSpec(
    name="hello", version="1", import_path="hello_agent:Hello", replicas=1, runtime_env=env
)
agents.DeployAgent(agent_pb2.DeployAgentRequest(agent=spec), timeout=120)
workflows.CreateWorkflow(workflow_pb2.CreateWorkflowRequest(definition=WORKFLOW), timeout=10)
inputs = struct_pb2.Struct()
inputs.update({"who": "there"})
started = workflows.StartExecution(
    workflow_pb2.StartExecutionRequest(workflow="hello", inputs=inputs), timeout=10
)
execution_id = started.execution.execution_id
list(workflows.WatchExecution(workflow_pb2.WatchExecutionRequest(execution_id=execution_id)))
done = workflows.GetExecution(
    workflow_pb2.GetExecutionRequest(execution_id=execution_id), timeout=10
).execution
print(
    stored.uri == f"package://sha256-{digest}",
    stored.created,
    again.created,
    workflow_pb2.ExecutionStatus.Name(done.status),
    done.outputs["said"],
)
