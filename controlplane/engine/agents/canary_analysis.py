"""The verdict on a canary step (pure): the canary's error rate and p95 latency against the
stable version's, over the attempts that finished since the step began."""

from __future__ import annotations

from collections.abc import Sequence

from controlplane.engine.agents.versions import percentile
from models.agents import CanaryAnalysis, StepAnalysis

# What counts: attempts that ran to an outcome of the agent's making. Cancelled and preempted
# attempts say nothing about the version.
FAILED_STATUSES = frozenset({"FAILED", "TIMED_OUT", "LOST"})
COUNTED_STATUSES = FAILED_STATUSES | {"SUCCEEDED"}
# A p95 of fewer successes is their maximum or close to it: one cold start of a new replica
# would decide. Below this many on either side, latency is not compared (errors still are).
LATENCY_MIN_SAMPLES = 20


def analyse(
    canary: Sequence[tuple[str, float]],
    stable: Sequence[tuple[str, float]],
    thresholds: CanaryAnalysis,
    hold_over: bool,
) -> StepAnalysis:
    """(status, seconds) of each version's finished attempts -> pass, fail or inconclusive.
    A step fails as soon as it has `min_attempts` canary attempts and the canary is worse;
    it passes once its hold is over and it has them."""
    canary_counted = [(s, d) for s, d in canary if s in COUNTED_STATUSES]
    stable_counted = [(s, d) for s, d in stable if s in COUNTED_STATUSES]
    canary_rate = _error_rate(canary_counted)
    stable_rate = _error_rate(stable_counted)
    # Latency of successes only: a fast failure must not make a version look quick.
    canary_ok = sorted(d for s, d in canary_counted if s == "SUCCEEDED")
    stable_ok = sorted(d for s, d in stable_counted if s == "SUCCEEDED")
    canary_p95 = percentile(canary_ok, 0.95)
    stable_p95 = percentile(stable_ok, 0.95)
    comparable = min(len(canary_ok), len(stable_ok)) >= LATENCY_MIN_SAMPLES
    n = len(canary_counted)

    def result(verdict: str, reason: str) -> StepAnalysis:
        return StepAnalysis(
            canary_attempts=n,
            canary_error_rate=canary_rate,
            canary_p95_s=canary_p95,
            stable_attempts=len(stable_counted),
            stable_error_rate=stable_rate,
            stable_p95_s=stable_p95,
            verdict=verdict,
            reason=reason,
        )

    if n < thresholds.min_attempts:
        return result(
            "inconclusive",
            f"{n} of the {thresholds.min_attempts} canary attempts a verdict needs",
        )
    if canary_rate > stable_rate + thresholds.max_error_rate_increase:
        return result(
            "fail",
            f"canary error rate {canary_rate:.1%} exceeds the stable {stable_rate:.1%} by more "
            f"than {thresholds.max_error_rate_increase:.1%}",
        )
    if comparable and canary_p95 is not None and stable_p95 is not None:
        limit = max(
            stable_p95 * thresholds.max_latency_ratio,
            stable_p95 + thresholds.min_latency_increase_s,
        )
        if canary_p95 > limit:
            return result(
                "fail",
                f"canary p95 latency {canary_p95 * 1000:.0f} ms exceeds {limit * 1000:.0f} ms "
                f"(stable p95 {stable_p95 * 1000:.0f} ms)",
            )
    if not hold_over:
        return result("inconclusive", "holding: the canary is within thresholds so far")
    return result(
        "pass",
        f"canary error rate {canary_rate:.1%} (stable {stable_rate:.1%}) over {n} attempts",
    )


def _error_rate(outcomes: Sequence[tuple[str, float]]) -> float:
    if not outcomes:
        return 0.0
    return sum(1 for status, _ in outcomes if status in FAILED_STATUSES) / len(outcomes)
