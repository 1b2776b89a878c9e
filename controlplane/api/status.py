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


# The status travels in trailing metadata, which most clients accept up to 8 KiB (and refuse
# at random a little above): the message percent-encoded in grpc-message (up to three
# characters a byte) and the whole status again in base64 in grpc-status-details-bin. An error
# that echoes a huge or non-ASCII input must still arrive as itself, so texts are cut by their
# UTF-8 size and violations dropped (and counted) until the status fits.
MAX_MESSAGE_BYTES = 800
MAX_FIELD_BYTES = 200
MAX_DESCRIPTION_BYTES = 300
MAX_VIOLATIONS = 20
MAX_STATUS_BYTES = 3000


def fit(text: str, max_bytes: int) -> str:
    """`text` as valid UTF-8 of at most `max_bytes` bytes, saying how long it was if cut."""
    data = text.encode("utf-8", "backslashreplace")
    if len(data) <= max_bytes:
        return data.decode()
    suffix = f"... ({len(text)} characters)"
    return data[: max(max_bytes - len(suffix), 0)].decode("utf-8", "ignore") + suffix


def _bounded(error: OrchestratorError) -> tuple[str, list[FieldViolation], int]:
    kept = [
        FieldViolation(fit(v.field, MAX_FIELD_BYTES), fit(v.description, MAX_DESCRIPTION_BYTES))
        for v in error.violations[:MAX_VIOLATIONS]
    ]
    return fit(error.message, MAX_MESSAGE_BYTES), kept, len(error.violations) - len(kept)


def _retry_info(delay_s: float) -> any_pb2.Any:
    retry = any_pb2.Any()
    delay = duration_pb2.Duration()
    delay.FromNanoseconds(max(int(delay_s * 1e9), 0))
    retry.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
    return retry


def to_status(error: OrchestratorError) -> grpc.Status:
    code = next((c for kind, c in _CODES if isinstance(error, kind)), code_pb2.INTERNAL)
    message, violations, left_out = _bounded(error)
    while True:
        shown = list(violations)
        if left_out > 0:
            shown.append(FieldViolation("", f"{left_out} more problems not shown"))
        status = _status(code, message, shown, error)
        if status.ByteSize() <= MAX_STATUS_BYTES or not violations:
            return rpc_status.to_status(status)
        violations.pop()
        left_out += 1


def _status(
    code: int, message: str, violations: list[FieldViolation], error: OrchestratorError
) -> status_pb2.Status:
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
    return status_pb2.Status(code=code, message=message, details=details)
