"""Rollouts: how a new agent version replaces the serving one (rolling, blue-green, canary),
the steps a rollout takes, and where it stands. Each step is stored before it is acted on, so a
restarted control plane resumes the rollout where it stopped."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from models.agents import AgentSpec


class StrategyKind(enum.Enum):
    ROLLING = "ROLLING"  # replace replicas a few at a time (max_surge, max_unavailable)
    BLUE_GREEN = "BLUE_GREEN"  # the new set fully ready, then all traffic switches at once
    CANARY = "CANARY"  # a share of traffic in steps, analysed before each promotion


@dataclass(frozen=True)
class CanaryStep:
    """Send `weight_percent` of the agent's attempts to the new version for `hold_s`."""

    weight_percent: float
    hold_s: float


@dataclass(frozen=True)
class CanaryAnalysis:
    """When a canary step passes. The canary fails when its error rate exceeds the stable
    version's by more than `max_error_rate_increase`, or its p95 latency exceeds both
    `max_latency_ratio` x the stable p95 and the stable p95 + `min_latency_increase_s`. A
    step needs `min_attempts` finished canary attempts for a verdict: it holds until it has
    them, and fails as soon as it has them and the canary is worse."""

    max_error_rate_increase: float = 0.05
    max_latency_ratio: float = 1.5
    min_latency_increase_s: float = 0.05
    min_attempts: int = 20


DEFAULT_CANARY_STEPS = (CanaryStep(10.0, 60.0), CanaryStep(50.0, 60.0))


@dataclass(frozen=True)
class RolloutStrategy:
    """How DeployAgent rolls a new spec out. Counts are replicas ("2") or a share of the
    desired count ("25%"; surge rounds up, unavailable down), as in Kubernetes."""

    kind: StrategyKind = StrategyKind.ROLLING
    max_surge: str = "25%"
    max_unavailable: str = "0"
    # blue_green: how long the previous set stays up (without traffic) for an instant rollback.
    rollback_window_s: float = 300.0
    # canary: the weight steps before 100%, each held and analysed.
    steps: tuple[CanaryStep, ...] = DEFAULT_CANARY_STEPS
    analysis: CanaryAnalysis = field(default_factory=CanaryAnalysis)


@dataclass(frozen=True)
class VersionTarget:
    """What one version of an agent should run: `replicas` of `spec`, taking `weight` of the
    attempts (a share in [0, 1]); None: no split, attempts go to any usable replica."""

    spec: AgentSpec
    replicas: int
    weight: float | None = None


@dataclass(frozen=True)
class RolloutStep:
    """One step: the stable version's and the new version's replica counts and the new
    version's traffic share (None: by replicas), held for `hold_s`, analysed if `analyse`."""

    stable_replicas: int
    new_replicas: int
    new_weight: float | None = None
    hold_s: float = 0.0
    analyse: bool = False


class RolloutState(enum.Enum):
    PROGRESSING = "PROGRESSING"  # steps are being taken
    SUCCEEDED = "SUCCEEDED"  # the new version serves all traffic; the previous one is retired
    ROLLED_BACK = "ROLLED_BACK"  # the analysis failed or RollbackAgent aborted it
    FAILED = "FAILED"  # the new version's replicas did not start; the previous one serves


@dataclass(frozen=True)
class StepAnalysis:
    """The comparison behind a canary verdict, over the step so far."""

    canary_attempts: int
    canary_error_rate: float
    canary_p95_s: float | None
    stable_attempts: int
    stable_error_rate: float
    stable_p95_s: float | None
    verdict: str  # "pass", "fail" or "inconclusive"
    reason: str


@dataclass(frozen=True)
class RolloutRecord:
    """One rollout of an agent, as stored. `step` indexes `steps`; the step's start time is
    when its targets were applied (the hold counts from then)."""

    rollout_id: str
    agent: str
    strategy: RolloutStrategy
    stable: AgentSpec | None  # None for a first deploy
    new: AgentSpec
    steps: tuple[RolloutStep, ...]
    step: int
    state: RolloutState
    create_time: float
    update_time: float
    step_start_time: float | None = None
    message: str = ""
    analysis: StepAnalysis | None = None

    @property
    def active(self) -> bool:
        return self.state is RolloutState.PROGRESSING

    @property
    def current(self) -> RolloutStep:
        return self.steps[min(self.step, len(self.steps) - 1)]
