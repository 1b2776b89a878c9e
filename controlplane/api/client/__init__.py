"""The Python client of the orchestrator's gRPC API: `OrchestratorClient` (blocking) and
`AsyncOrchestratorClient` (asyncio). Every method returns `models` types.

Imports only `models`, the codec, the generated code and grpc, so that a program that only
talks to a control plane needs neither Ray nor the schedulers (see README, "Client-only
install")."""

from controlplane.api.client.async_client import AsyncOrchestratorClient
from controlplane.api.client.async_executions import AsyncExecutionHandle
from controlplane.api.client.channels import Credentials, CredentialsError
from controlplane.api.client.errors import ClientError
from controlplane.api.client.packaging import PackagingError
from controlplane.api.client.retries import RetryPolicy
from controlplane.api.client.sync_client import OrchestratorClient
from controlplane.api.client.sync_executions import ExecutionHandle

__all__ = [
    "AsyncExecutionHandle",
    "AsyncOrchestratorClient",
    "ClientError",
    "Credentials",
    "CredentialsError",
    "ExecutionHandle",
    "OrchestratorClient",
    "PackagingError",
    "RetryPolicy",
]
