"""Typed domain errors; the API layer maps each to one gRPC status code."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class OrchestratorError(Exception):
    """Base for errors a client caused or must react to."""

    def __init__(self, message: str, violations: list[FieldViolation] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.violations = violations or []


class InvalidArgument(OrchestratorError):
    pass


class NotFound(OrchestratorError):
    pass


class AlreadyExists(OrchestratorError):
    pass


class FailedPrecondition(OrchestratorError):
    pass


class ResourceExhausted(OrchestratorError):
    """Over a quota or limit; with `retry_after_s`, the same request may succeed after that
    long (a rate limit's next token)."""

    def __init__(
        self,
        message: str,
        violations: list[FieldViolation] | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, violations)
        self.retry_after_s = retry_after_s


class Unauthenticated(OrchestratorError):
    """The call carries no valid credentials (no key, an unknown or revoked one)."""


class PermissionDenied(OrchestratorError):
    """The caller is known but its role does not allow this call in this namespace."""


def invalid(field: str, description: str) -> InvalidArgument:
    return InvalidArgument(f"{field}: {description}", [FieldViolation(field, description)])


class Unavailable(OrchestratorError):
    """The control plane cannot take the request now (its store refuses writes); the same
    request may succeed after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: float = 5.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Internal(OrchestratorError):
    """The control plane could not do what it accepted, by a fault of its own (logged with its
    traceback where it happened)."""
