"""A replica's health from its probe results: thresholds of failures (and successes) in a row.

Pure: the caller passes the agent's current settings with every result.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.replica_health import HealthCheck, HealthStatus


@dataclass(frozen=True)
class HealthTransition:
    before: HealthStatus
    after: HealthStatus
    reason: str


class HealthTracker:
    def __init__(self) -> None:
        self.status = HealthStatus.HEALTHY
        self.failures_in_row = 0
        self.successes_in_row = 0

    def record(self, ok: bool, config: HealthCheck, error: str = "") -> HealthTransition | None:
        """One probe result; the transition it causes, if any."""
        if ok:
            self.failures_in_row = 0
            self.successes_in_row += 1
            if (
                self.status is HealthStatus.UNHEALTHY
                and self.successes_in_row >= config.success_threshold
            ):
                return self._move(
                    HealthStatus.HEALTHY, f"{self.successes_in_row} health probes in a row passed"
                )
            return None
        self.successes_in_row = 0
        self.failures_in_row += 1
        if self.status is HealthStatus.HEALTHY and self.failures_in_row >= config.failure_threshold:
            why = f"{self.failures_in_row} health probes in a row failed"
            return self._move(HealthStatus.UNHEALTHY, f"{why}: {error}" if error else why)
        return None

    def _move(self, status: HealthStatus, reason: str) -> HealthTransition:
        transition = HealthTransition(self.status, status, reason)
        self.status = status
        return transition
