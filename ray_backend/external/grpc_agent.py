"""The proxy agent of a `grpc://host:port` endpoint: calls its `orchestrator.agent.v1
.AgentRuntime` service with grpc.aio.

A grpc.aio channel belongs to the event loop it was made on, and Ray runs each concurrency
group of an async actor on a loop of its own: the proxy keeps one channel per loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from urllib.parse import urlsplit

import grpc
from google.protobuf import json_format, struct_pb2, timestamp_pb2

from controlplane.api.gen.orchestrator.agent.v1 import runtime_pb2, runtime_pb2_grpc
from models.agents import EndpointOptions
from models.failures import one_line
from ray_backend.external.errors import AGENT_ERROR, ExternalAgentError
from ray_backend.external.wire import configured_headers, request_id

logger = logging.getLogger(__name__)

HEALTH_TIMEOUT_S = 5.0
CANCEL_TIMEOUT_S = 5.0
# Codes that say the request itself is wrong: another attempt fails the same way.
NOT_RETRYABLE = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNIMPLEMENTED,
    }
)


def status_error_type(code: grpc.StatusCode) -> str:
    """`GrpcUnavailable`, `GrpcInvalidArgument`, ...: the attempt's error type."""
    return "Grpc" + "".join(word.capitalize() for word in code.name.split("_"))


def status_error(exc: grpc.aio.AioRpcError, call: str) -> ExternalAgentError:
    code = exc.code()
    return ExternalAgentError(
        status_error_type(code),
        f"{code.name} from {call}: {exc.details() or '(no details)'}",
        retryable=code not in NOT_RETRYABLE,
    )


def to_value(value: Any) -> struct_pb2.Value:
    message = struct_pb2.Value()
    json_format.ParseDict(value, message)
    return message


def from_value(message: struct_pb2.Value) -> Any:
    """The JSON value of a Value; integral numbers come back as ints (a Value holds doubles)."""
    kind = message.WhichOneof("kind")
    if kind == "struct_value":
        return {key: from_value(item) for key, item in message.struct_value.fields.items()}
    if kind == "list_value":
        return [from_value(item) for item in message.list_value.values]
    if kind == "number_value":
        number = message.number_value
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if kind == "string_value":
        return message.string_value
    if kind == "bool_value":
        return message.bool_value
    return None


class GrpcAgent:
    """Calls one gRPC agent; `options` are the fields of `EndpointOptions`."""

    def __init__(self, endpoint: str, options: dict[str, Any]) -> None:
        parts = urlsplit(endpoint)
        self._target = f"{parts.hostname}:{parts.port}"
        if parts.hostname and ":" in parts.hostname:  # an IPv6 address
            self._target = f"[{parts.hostname}]:{parts.port}"
        self._options = EndpointOptions(**options)
        self._metadata = tuple(
            (name.lower(), value) for name, value in configured_headers(self._options).items()
        )
        self._stubs: dict[asyncio.AbstractEventLoop, runtime_pb2_grpc.AgentRuntimeStub] = {}

    def _stub(self) -> runtime_pb2_grpc.AgentRuntimeStub:
        loop = asyncio.get_running_loop()
        stub = self._stubs.get(loop)
        if stub is None:
            channel = grpc.aio.insecure_channel(self._target)
            stub = runtime_pb2_grpc.AgentRuntimeStub(channel)
            self._stubs[loop] = stub
        return stub

    def _context(self, context: dict[str, Any]) -> runtime_pb2.AttemptContext:
        message = runtime_pb2.AttemptContext(
            execution_id=str(context.get("execution_id", "")),
            task_id=str(context.get("task_id", "")),
            attempt=int(context.get("attempt", 0)),
            agent_version=str(context.get("agent_version", "")),
            request_id=request_id(context),
        )
        deadline = context.get("deadline")
        if deadline is not None:
            stamp = timestamp_pb2.Timestamp()
            stamp.FromNanoseconds(int(deadline * 1e9))
            message.deadline.CopyFrom(stamp)
        return message

    def _metadata_for(self, context: dict[str, Any]) -> tuple[tuple[str, str], ...]:
        return (*self._metadata, ("x-request-id", request_id(context)))

    async def execute(self, input: Any, context: dict[str, Any]) -> Any:
        call = f"{self._target} AgentRuntime.Execute"
        timeout = self._options.read_timeout_s
        deadline = context.get("deadline")
        if deadline is not None:
            timeout = max(0.001, min(timeout, deadline - time.time()))
        request = runtime_pb2.ExecuteRequest(input=to_value(input), context=self._context(context))
        try:
            response = await self._stub().Execute(
                request, timeout=timeout, metadata=self._metadata_for(context)
            )
        except grpc.aio.AioRpcError as exc:
            raise status_error(exc, call) from None
        if response.WhichOneof("result") == "error":
            error = response.error
            raise ExternalAgentError(
                one_line(error.type, 100) or AGENT_ERROR,
                one_line(error.message, 2000),
                retryable=error.retryable if error.HasField("retryable") else True,
            )
        return from_value(response.output) if response.HasField("output") else None

    async def health(self) -> dict[str, Any]:
        call = f"{self._target} AgentRuntime.Health"
        try:
            response = await self._stub().Health(
                runtime_pb2.HealthRequest(), timeout=HEALTH_TIMEOUT_S, metadata=self._metadata
            )
        except grpc.aio.AioRpcError as exc:
            error = status_error(exc, call)
            return {"ok": False, "error": f"{error.error_type}: {error.message}"}
        if not response.ok:
            return {"ok": False, "error": response.message or f"{call} answered ok=false"}
        return {"ok": True}

    async def cancel(self, context: dict[str, Any]) -> None:
        """Tells the agent the attempt is cancelled; best effort, bounded."""
        request = runtime_pb2.CancelRequest(
            execution_id=str(context.get("execution_id", "")),
            task_id=str(context.get("task_id", "")),
            attempt=int(context.get("attempt", 0)),
            request_id=request_id(context),
        )
        try:
            await self._stub().Cancel(
                request, timeout=CANCEL_TIMEOUT_S, metadata=self._metadata_for(context)
            )
        except grpc.aio.AioRpcError as exc:
            logger.warning("could not cancel attempt at %s: %s", self._target, exc.code().name)
