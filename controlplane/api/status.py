"""Maps domain errors to gRPC statuses carrying google.rpc error details."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from models.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    OrchestratorError,
    ResourceExhausted,
)

_CODES: list[tuple[type[OrchestratorError], int]] = [
    (InvalidArgument, code_pb2.INVALID_ARGUMENT),
    (NotFound, code_pb2.NOT_FOUND),
    (AlreadyExists, code_pb2.ALREADY_EXISTS),
    (FailedPrecondition, code_pb2.FAILED_PRECONDITION),
    (ResourceExhausted, code_pb2.RESOURCE_EXHAUSTED),
]


def to_status(error: OrchestratorError) -> grpc.Status:
    code = next((c for kind, c in _CODES if isinstance(error, kind)), code_pb2.INTERNAL)
    details: list[any_pb2.Any] = []
    if error.violations:
        bad_request = any_pb2.Any()
        bad_request.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=v.field, description=v.description
                    )
                    for v in error.violations
                ]
            )
        )
        details.append(bad_request)
    if error.violations and isinstance(error, FailedPrecondition):
        precondition = any_pb2.Any()
        precondition.Pack(
            error_details_pb2.PreconditionFailure(
                violations=[
                    error_details_pb2.PreconditionFailure.Violation(
                        type="FAILED_PRECONDITION", subject=v.field, description=v.description
                    )
                    for v in error.violations
                ]
            )
        )
        details.append(precondition)
    return rpc_status.to_status(
        status_pb2.Status(code=code, message=error.message, details=details)
    )
