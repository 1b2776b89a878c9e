"""Which calls are retried when the server is UNAVAILABLE, and how: a gRPC service config
for the idempotent methods, and the same policy for the calls a request id makes idempotent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

# Safe to send twice: reads, and writes that replace a whole value (a second try finds it
# set, as Pause/ResumeExecution find the execution paused or not). Creates and deletes are
# not (a second try answers ALREADY_EXISTS or NOT_FOUND), nor is CancelExecution;
# StartExecution, SignalExecution, RetryExecution, ModifyExecution and Reserve are when they
# carry a request id (the client gives every signal, retry and modification one).
IDEMPOTENT: dict[str, tuple[str, ...]] = {
    "orchestrator.v1.AgentService": (
        "GetAgent",
        "ListAgents",
        "ScaleAgent",
        "ListAgentEvents",
        "WatchAgentEvents",
    ),
    "orchestrator.v1.WorkflowService": (
        "GetWorkflow",
        "ListWorkflows",
        "ValidateWorkflow",
        "GetExecution",
        "ListExecutions",
        "WatchExecution",
        "PauseExecution",
        "ResumeExecution",
    ),
    "orchestrator.v1.ResourceService": (
        "GetPool",
        "ListPools",
        "UpdatePool",
        "GetClusterState",
        "SetQuota",
        "GetQuota",
        "GetReservation",
    ),
    "orchestrator.v1.SchedulerService": ("ListSchedulers", "Plan"),
    "orchestrator.v1.ScalingService": (
        "SetScalingPolicy",
        "GetScalingPolicy",
        "GetScalingStatus",
        "GetForecast",
        "ListScalingEvents",
        "GetLoadHistory",
    ),
    "orchestrator.v1.ScheduleService": (
        "GetSchedule",
        "ListSchedules",
        "PauseSchedule",
        "ResumeSchedule",
    ),
    "orchestrator.v1.AdminService": ("ListAuditEvents",),
}


@dataclass(frozen=True)
class RetryPolicy:
    """gRPC's retry policy (gRFC A6): up to `max_attempts` tries in all, the n-th retry after a
    random delay below min(initial_backoff_s * multiplier**(n-1), max_backoff_s)."""

    max_attempts: int = 4
    initial_backoff_s: float = 0.2
    max_backoff_s: float = 2.0
    backoff_multiplier: float = 2.0

    def __post_init__(self) -> None:
        # gRPC clamps maxAttempts to 5 and rejects a service config with fewer than 2.
        if not 2 <= self.max_attempts <= 5:
            raise ValueError("max_attempts must be between 2 and 5")
        if self.initial_backoff_s <= 0 or self.max_backoff_s < self.initial_backoff_s:
            raise ValueError("backoffs must be positive, the maximum at least the initial one")
        if self.backoff_multiplier < 1:
            raise ValueError("backoff_multiplier must be at least 1")

    def service_config(self) -> str:
        """The service config JSON (`grpc.service_config` channel option)."""
        policy = {
            "maxAttempts": self.max_attempts,
            "initialBackoff": f"{self.initial_backoff_s:g}s",
            "maxBackoff": f"{self.max_backoff_s:g}s",
            "backoffMultiplier": self.backoff_multiplier,
            "retryableStatusCodes": ["UNAVAILABLE"],
        }
        names = [
            {"service": service, "method": method}
            for service, methods in IDEMPOTENT.items()
            for method in methods
        ]
        return json.dumps({"methodConfig": [{"name": names, "retryPolicy": policy}]})

    def delays(self) -> Iterator[float]:
        """The waits before each retry of a call the client retries itself (the upper bound
        of gRPC's random delay, so a retry never comes sooner than gRPC's would at most)."""
        delay = self.initial_backoff_s
        for _ in range(self.max_attempts - 1):
            yield delay
            delay = min(delay * self.backoff_multiplier, self.max_backoff_s)


DEFAULT_RETRY = RetryPolicy()


def channel_options(policy: RetryPolicy | None) -> list[tuple[str, str | int]]:
    """Channel options with `policy` for the idempotent methods (None: no retries)."""
    if policy is None:
        return [("grpc.enable_retries", 0)]
    return [("grpc.enable_retries", 1), ("grpc.service_config", policy.service_config())]
