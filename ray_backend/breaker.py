"""A replica's circuit breaker over its attempt outcomes.

Pure: the caller passes the time (monotonic seconds) and the agent's current settings, so a
redeploy that changes them takes effect at the next outcome. Outcomes are counted in buckets
(a hundredth of the window each), so a busy replica costs constant memory.

Every attempt is admitted with the breaker's current ``epoch`` and its outcome counts only in
that epoch: an attempt that started before the breaker opened and ends later neither reopens
nor closes it, and only the one probe attempt of a half-open breaker decides its fate.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

from models.replica_health import BreakerState, CircuitBreaker

BUCKETS_PER_WINDOW = 100


@dataclass(frozen=True)
class BreakerTransition:
    before: BreakerState
    after: BreakerState
    reason: str


@dataclass(frozen=True)
class Admission:
    """What the breaker said when an attempt started: the epoch its outcome belongs to and
    whether it is the half-open breaker's probe."""

    epoch: int
    probe: bool


class Breaker:
    def __init__(self) -> None:
        self.state = BreakerState.CLOSED
        self.epoch = 0
        self.consecutive_failures = 0
        self._probing = False
        self._reopen_at = 0.0
        # [bucket start, attempts, failures], oldest first.
        self._buckets: collections.deque[list[float]] = collections.deque()
        # What the buckets hold, summed (kept with them rather than summed per outcome).
        self._attempts = 0
        self._failures = 0

    def admits(self, now: float, config: CircuitBreaker) -> bool:
        """May a new attempt start now (an open breaker whose cool-down is over does)?"""
        if not config.enabled or self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN:
            return now >= self._reopen_at
        return not self._probing

    @property
    def reopen_at(self) -> float:
        """When an open breaker lets its probe attempt through."""
        return self._reopen_at

    def expire(self, now: float, config: CircuitBreaker) -> BreakerTransition | None:
        """OPEN -> HALF_OPEN once the cool-down has passed; a disabled breaker closes."""
        if not config.enabled and self.state is not BreakerState.CLOSED:
            return self._close("the circuit breaker was disabled")
        if self.state is BreakerState.OPEN and now >= self._reopen_at:
            return self._move(BreakerState.HALF_OPEN, f"cool-down of {config.cool_down_s:g}s over")
        return None

    def admit(
        self, now: float, config: CircuitBreaker
    ) -> tuple[Admission, BreakerTransition | None]:
        """An attempt starts (``admits`` was true): its admission, and the transition to
        HALF_OPEN if the cool-down ended just now."""
        transition = self.expire(now, config)
        probe = config.enabled and self.state is BreakerState.HALF_OPEN
        if probe:
            self._probing = True
        return Admission(self.epoch, probe), transition

    def release(self, admission: Admission) -> None:
        """The attempt ended without an outcome (cancelled): the probe slot is free again."""
        if admission.probe and admission.epoch == self.epoch:
            self._probing = False

    def record(
        self, admission: Admission, ok: bool, now: float, config: CircuitBreaker
    ) -> BreakerTransition | None:
        """The outcome of an admitted attempt; the transition it causes, if any."""
        if not config.enabled:
            return self.expire(now, config)
        if admission.epoch != self.epoch:
            return None
        if admission.probe:
            self._probing = False
            if ok:
                return self._close("probe attempt succeeded")
            return self._open(now, config, "probe attempt failed")
        if self.state is not BreakerState.CLOSED:
            return None
        self._count(ok, now, config.window_s)
        self.consecutive_failures = 0 if ok else self.consecutive_failures + 1
        if 0 < config.consecutive_failures <= self.consecutive_failures:
            return self._open(now, config, f"{self.consecutive_failures} failed attempts in a row")
        attempts, failures = self.window_counts(now, config.window_s)
        if (
            config.failure_rate > 0
            and attempts >= max(config.minimum_attempts, 1)
            and failures >= config.failure_rate * attempts
        ):
            return self._open(
                now,
                config,
                f"{failures} of {attempts} attempts failed within {config.window_s:g}s",
            )
        return None

    def window_counts(self, now: float, window_s: float) -> tuple[int, int]:
        """(attempts, failures) that ended within the last `window_s`."""
        self._prune(now, window_s)
        return self._attempts, self._failures

    def _count(self, ok: bool, now: float, window_s: float) -> None:
        width = max(window_s / BUCKETS_PER_WINDOW, 1e-6)
        start = now - now % width
        if not self._buckets or self._buckets[-1][0] != start:
            self._buckets.append([start, 0, 0])
        bucket = self._buckets[-1]
        bucket[1] += 1
        self._attempts += 1
        if not ok:
            bucket[2] += 1
            self._failures += 1
        self._prune(now, window_s)

    def _prune(self, now: float, window_s: float) -> None:
        width = max(window_s / BUCKETS_PER_WINDOW, 1e-6)
        while self._buckets and self._buckets[0][0] + width <= now - window_s:
            _, attempts, failures = self._buckets.popleft()
            self._attempts -= int(attempts)
            self._failures -= int(failures)

    def _open(self, now: float, config: CircuitBreaker, reason: str) -> BreakerTransition:
        self._reopen_at = now + config.cool_down_s
        return self._move(BreakerState.OPEN, reason)

    def _close(self, reason: str) -> BreakerTransition:
        self._buckets.clear()
        self._attempts = self._failures = 0
        self.consecutive_failures = 0
        return self._move(BreakerState.CLOSED, reason)

    def _move(self, state: BreakerState, reason: str) -> BreakerTransition:
        transition = BreakerTransition(self.state, state, reason)
        self.state = state
        self.epoch += 1
        self._probing = False
        return transition
