"""What Ray reports when a replica does not start, as a ReplicaStartError: one line with the
root cause first, and the full report (bounded, without colour codes) as its detail.

A constructor that raises reaches the driver as an ``ActorDiedError`` whose message is the
replica's traceback; the replica raised ``AgentImportFailed`` / ``AgentInitFailed`` (see
``replica_actor``) with the summary it built from the real exception, so that summary is the
last line of the traceback. Other failures (runtime environment, a dead worker process, an
error in ``health``) are summarised from the exception Ray wraps or the traceback it sends.
"""

from __future__ import annotations

import re

from models.backend import ReplicaStartError
from models.failures import bounded_detail, failure_summary, innermost_exception, one_line
from ray_backend.replica_actor import AgentImportFailed, AgentInitFailed

# The last line of the replica's traceback: "[module.]AgentInitFailed: <summary>".
_MARKED = re.compile(
    rf"^(?:[\w.]+\.)?(?P<kind>{AgentImportFailed.__name__}|{AgentInitFailed.__name__}): "
    r"(?P<summary>.*)$"
)


def start_error(exc: BaseException) -> ReplicaStartError:
    """The ReplicaStartError that `exc` (raised while creating or first calling a replica)
    stands for."""
    if isinstance(exc, ReplicaStartError):
        return exc
    report = str(exc)
    detail = bounded_detail(report)
    last = innermost_exception(report)
    marked = _MARKED.match(last) if last is not None else None
    if marked is not None:
        field = "agent.import_path" if marked["kind"] == AgentImportFailed.__name__ else "agent"
        return ReplicaStartError(marked["summary"], detail, field)
    return ReplicaStartError(failure_summary(exc), detail)


def not_ready(
    replica: str, timeout_s: float, waiting_for: str, last: BaseException | None
) -> ReplicaStartError:
    """The replica did not answer within the deadline: what it waited for, or the last reason
    it gave for not being ready."""
    if last is not None:
        reason = start_error(last)
        return ReplicaStartError(
            one_line(f"replica {replica} not ready within {timeout_s:g}s: {reason.summary}"),
            reason.detail,
            reason.field,
        )
    return ReplicaStartError(
        one_line(
            f"replica {replica} not started within {timeout_s:g}s: Ray has not placed it "
            f"(it waits for {waiting_for})"
        )
    )
