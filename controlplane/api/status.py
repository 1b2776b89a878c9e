"""Maps domain errors to gRPC statuses carrying google.rpc error details."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from models.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    Internal,
    InvalidArgument,
    NotFound,
    OrchestratorError,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)
from models.values import shorten

_CODES: list[tuple[type[OrchestratorError], int]] = [
    (InvalidArgument, code_pb2.INVALID_ARGUMENT),
    (NotFound, code_pb2.NOT_FOUND),
    (AlreadyExists, code_pb2.ALREADY_EXISTS),
    (FailedPrecondition, code_pb2.FAILED_PRECONDITION),
    (ResourceExhausted, code_pb2.RESOURCE_EXHAUSTED),
    (Unavailable, code_pb2.UNAVAILABLE),
    (Internal, code_pb2.INTERNAL),
    (Unauthenticated, code_pb2.UNAUTHENTICATED),
    (PermissionDenied, code_pb2.PERMISSION_DENIED),
]


# The status travels in trailing metadata (8 KiB by default in most clients): an error that
# echoes a huge input must still arrive as itself, so texts are cut and violations counted.
MAX_MESSAGE_CHARS = 1000
MAX_FIELD_CHARS = 200
MAX_DESCRIPTION_CHARS = 300
MAX_VIOLATIONS = 20


def _bounded(error: OrchestratorError) -> tuple[str, list[FieldViolation]]:
    kept = [
        FieldViolation(
            shorten(v.field, MAX_FIELD_CHARS), shorten(v.description, MAX_DESCRIPTION_CHARS)
        )
        for v in error.violations[:MAX_VIOLATIONS]
    ]
    left_out = len(error.violations) - len(kept)
    if left_out > 0:
        kept.append(FieldViolation("", f"{left_out} more problems not shown"))
    return shorten(error.message, MAX_MESSAGE_CHARS), kept


def _retry_info(delay_s: float) -> any_pb2.Any:
    retry = any_pb2.Any()
    delay = duration_pb2.Duration()
    delay.FromNanoseconds(max(int(delay_s * 1e9), 0))
    retry.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
    return retry


def to_status(error: OrchestratorError) -> grpc.Status:
    code = next((c for kind, c in _CODES if isinstance(error, kind)), code_pb2.INTERNAL)
    message, violations = _bounded(error)
    details: list[any_pb2.Any] = []
    if violations:
        bad_request = any_pb2.Any()
        bad_request.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=v.field, description=v.description
                    )
                    for v in violations
                ]
            )
        )
        details.append(bad_request)
    if violations and isinstance(error, FailedPrecondition):
        precondition = any_pb2.Any()
        precondition.Pack(
            error_details_pb2.PreconditionFailure(
                violations=[
                    error_details_pb2.PreconditionFailure.Violation(
                        type="FAILED_PRECONDITION", subject=v.field, description=v.description
                    )
                    for v in violations
                ]
            )
        )
        details.append(precondition)
    retry_after_s = (
        error.retry_after_s if isinstance(error, Unavailable | ResourceExhausted) else None
    )
    if retry_after_s is not None:
        details.append(_retry_info(retry_after_s))
    return rpc_status.to_status(status_pb2.Status(code=code, message=message, details=details))
