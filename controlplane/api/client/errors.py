"""`ClientError`: a failed call, decoded from the gRPC status and its google.rpc details."""

from __future__ import annotations

from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status


class ClientError(Exception):
    """A failed call: the gRPC status code name, its message and any field violations."""

    def __init__(
        self, code_name: str, message: str, violations: list[tuple[str, str]] | None = None
    ) -> None:
        super().__init__(f"{code_name}: {message}")
        self.code_name = code_name
        self.message = message
        self.violations: list[tuple[str, str]] = list(violations or [])

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError, address: str = "") -> ClientError:
        # A blocking call fails with a grpc.Call, an asyncio one with an AioRpcError; both
        # answer code(), details() and trailing_metadata().
        call: Any = error if isinstance(error, grpc.Call | grpc.aio.AioRpcError) else None
        code = call.code() if call is not None else None
        code_name = code.name if code is not None else "UNKNOWN"
        message = (call.details() if call is not None else None) or str(error)
        if code is grpc.StatusCode.UNAVAILABLE:
            where = f" at {address}" if address else ""
            message = f"cannot reach the orchestrator{where} ({message})"
        violations = _violations(call) if call is not None else []
        return cls(code_name, " ".join(message.split()), violations)


def _violations(call: Any) -> list[tuple[str, str]]:
    try:
        status = rpc_status.from_call(call)
    except ValueError:
        return []
    if status is None:
        return []
    found: list[tuple[str, str]] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            found.extend((v.field, v.description) for v in bad_request.field_violations)
    return found
