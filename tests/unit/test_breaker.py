"""The circuit breaker and the health thresholds of a replica, on a fake clock."""

from __future__ import annotations

from dataclasses import replace

from models.replica_health import BreakerState, CircuitBreaker, HealthCheck, HealthStatus
from ray_backend.breaker import Breaker
from ray_backend.health_tracker import HealthTracker

CONFIG = CircuitBreaker(
    consecutive_failures=3, failure_rate=0.5, window_s=10.0, minimum_attempts=4, cool_down_s=5.0
)


def attempt(breaker: Breaker, ok: bool, now: float, config: CircuitBreaker = CONFIG) -> object:
    admission, _ = breaker.admit(now, config)
    return breaker.record(admission, ok, now, config)


def test_opens_after_consecutive_failures_and_admits_nothing_until_the_cool_down() -> None:
    breaker = Breaker()
    assert attempt(breaker, False, 0.0) is None
    assert attempt(breaker, False, 0.1) is None
    moved = attempt(breaker, False, 0.2)
    assert moved is not None and moved.after is BreakerState.OPEN
    assert "3 failed attempts in a row" in moved.reason
    assert not breaker.admits(0.3, CONFIG)
    assert not breaker.admits(5.1, CONFIG)
    assert breaker.admits(5.2, CONFIG)  # cool-down of 5 s from the opening failure


def test_a_success_resets_the_consecutive_count() -> None:
    breaker = Breaker()
    config = replace(CONFIG, failure_rate=0.0)
    for now, ok in enumerate([False, False, True, False, False, True]):
        assert attempt(breaker, ok, float(now), config) is None
    assert breaker.state is BreakerState.CLOSED


def test_opens_on_the_failure_rate_within_the_window_once_enough_attempts_ended() -> None:
    breaker = Breaker()
    config = replace(CONFIG, consecutive_failures=0)
    outcomes = [False, True, False]
    for now, ok in enumerate(outcomes):
        assert attempt(breaker, ok, float(now), config) is None  # 3 < minimum_attempts
    moved = attempt(breaker, True, 3.0, config)
    assert moved is not None and moved.after is BreakerState.OPEN
    assert "2 of 4 attempts failed within 10s" in moved.reason


def test_outcomes_older_than_the_window_do_not_count() -> None:
    breaker = Breaker()
    config = replace(CONFIG, consecutive_failures=0)
    attempt(breaker, False, 0.0, config)
    attempt(breaker, False, 1.0, config)
    # 20 s later the two failures left the window: 1 failure of 4 recent attempts.
    for now, ok in [(21.0, True), (22.0, True), (23.0, False)]:
        assert attempt(breaker, ok, now, config) is None
    assert breaker.window_counts(23.0, 10.0) == (3, 1)
    assert attempt(breaker, True, 24.0, config) is None
    assert breaker.state is BreakerState.CLOSED


def open_breaker() -> Breaker:
    breaker = Breaker()
    for now in (0.0, 0.1, 0.2):
        attempt(breaker, False, now)
    assert breaker.state is BreakerState.OPEN
    return breaker


def test_half_open_lets_one_probe_through_and_its_success_closes() -> None:
    breaker = open_breaker()
    moved = breaker.expire(5.2, CONFIG)
    assert moved is not None and moved.after is BreakerState.HALF_OPEN
    probe, moved = breaker.admit(5.3, CONFIG)
    assert probe.probe and moved is None
    assert not breaker.admits(5.3, CONFIG)  # one probe at a time
    closed = breaker.record(probe, True, 6.0, CONFIG)
    assert closed is not None and closed.after is BreakerState.CLOSED
    assert closed.reason == "probe attempt succeeded"
    assert breaker.admits(6.0, CONFIG)
    # The window starts afresh: two failures do not reopen it.
    assert attempt(breaker, False, 6.1) is None
    assert attempt(breaker, False, 6.2) is None


def test_a_failed_probe_opens_again_for_another_cool_down() -> None:
    breaker = open_breaker()
    probe, moved = breaker.admit(5.5, CONFIG)  # the cool-down ended: admit half-opens it
    assert moved is not None and moved.after is BreakerState.HALF_OPEN and probe.probe
    reopened = breaker.record(probe, False, 6.0, CONFIG)
    assert reopened is not None and reopened.after is BreakerState.OPEN
    assert not breaker.admits(10.9, CONFIG)
    assert breaker.admits(11.0, CONFIG)


def test_a_cancelled_probe_frees_the_probe_slot() -> None:
    breaker = open_breaker()
    probe, _ = breaker.admit(5.5, CONFIG)
    assert not breaker.admits(5.6, CONFIG)
    breaker.release(probe)
    assert breaker.admits(5.6, CONFIG)
    assert breaker.state is BreakerState.HALF_OPEN


def test_late_outcomes_of_attempts_admitted_before_a_transition_do_not_count() -> None:
    breaker = Breaker()
    early, _ = breaker.admit(0.0, CONFIG)  # a long attempt, admitted while closed
    for now in (0.1, 0.2, 0.3):
        attempt(breaker, False, now)
    assert breaker.state is BreakerState.OPEN
    probe, _ = breaker.admit(6.0, CONFIG)
    # The early attempt ends (failed) while the probe runs: the breaker waits for the probe.
    assert breaker.record(early, False, 6.1, CONFIG) is None
    assert breaker.state is BreakerState.HALF_OPEN
    moved = breaker.record(probe, True, 6.2, CONFIG)
    assert moved is not None and moved.after is BreakerState.CLOSED


def test_a_disabled_breaker_admits_everything_and_closes() -> None:
    breaker = open_breaker()
    disabled = replace(CONFIG, enabled=False)
    assert breaker.admits(0.5, disabled)
    moved = breaker.expire(0.5, disabled)
    assert moved is not None and moved.after is BreakerState.CLOSED
    for now in range(10):
        assert attempt(breaker, False, float(now), disabled) is None
    assert breaker.state is BreakerState.CLOSED


def test_health_turns_unhealthy_after_the_failure_threshold_and_back_after_successes() -> None:
    tracker = HealthTracker()
    config = HealthCheck(failure_threshold=3, success_threshold=2)
    assert tracker.record(False, config, "timeout") is None
    assert tracker.record(True, config) is None  # the count restarts
    assert tracker.record(False, config, "timeout") is None
    assert tracker.record(False, config, "timeout") is None
    moved = tracker.record(False, config, "health() answered ok: false")
    assert moved is not None and moved.after is HealthStatus.UNHEALTHY
    assert moved.reason == "3 health probes in a row failed: health() answered ok: false"
    assert tracker.record(True, config) is None
    moved = tracker.record(True, config)
    assert moved is not None and moved.after is HealthStatus.HEALTHY
    assert tracker.status is HealthStatus.HEALTHY
