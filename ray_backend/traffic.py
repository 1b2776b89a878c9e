"""Weighted routing between two versions of an agent during a rollout, as Argo Rollouts and
Step Functions aliases do: each lease first picks a version by weight, then a replica of it by
the agent's load-balancing strategy.

Weights are kept by deficit (each version's served count against its share), not by coin
flips, so 10% is 10% after a few dozen attempts. The version under test (the canary) never
takes more than its share: when it is due but busy, the lease waits; the stable version
absorbs what the canary cannot take. A lease that avoids the canary (the retry of an attempt
that failed on it) goes to the stable version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from models.agents import VersionTarget


class Versioned(Protocol):
    @property
    def version(self) -> str: ...


R = TypeVar("R", bound=Versioned)


@dataclass
class TrafficSplit:
    weights: dict[str, float]  # version -> share of the attempts
    canary: str  # the version whose share is a cap
    served: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, targets: Sequence[VersionTarget]) -> TrafficSplit | None:
        """The split the targets ask for; None when there is none (one version, or no
        weights): every usable replica is then a candidate."""
        weighted = [t for t in targets if t.weight is not None]
        if len({t.spec.version for t in targets}) < 2 or not weighted:
            return None
        return cls(
            {t.spec.version: max(0.0, float(t.weight or 0.0)) for t in weighted},
            targets[-1].spec.version,
        )

    def same_as(self, other: TrafficSplit | None) -> bool:
        return other is not None and other.weights == self.weights and other.canary == self.canary

    def narrow(
        self, usable: list[R], candidates: list[R], avoid_version: str = ""
    ) -> tuple[list[R], list[R]]:
        """The usable replicas and free candidates of the version this lease goes to (no
        candidates: the lease waits for that version)."""
        live = {r.version for r in usable}
        eligible = [v for v, w in self.weights.items() if w > 0 and v in live]
        if avoid_version == self.canary and len(eligible) > 1:
            eligible.remove(avoid_version)
        if not eligible:
            return [], []
        total_weight = sum(self.weights[v] for v in eligible)
        total = sum(self.served.get(v, 0) for v in eligible) + 1

        def deficit(version: str) -> float:
            return self.weights[version] / total_weight * total - self.served.get(version, 0)

        with_slot = {r.version for r in candidates}
        best = max(eligible, key=lambda v: (deficit(v), v != self.canary))
        chosen: str | None = best if best in with_slot else None
        if chosen is None and best == self.canary:
            # The canary is due but busy: the stable version takes the attempt if it can.
            chosen = next((v for v in eligible if v != best and v in with_slot), None)
        version = chosen or best
        return (
            [r for r in usable if r.version == version],
            [r for r in candidates if r.version == version] if chosen else [],
        )

    def count(self, version: str) -> None:
        self.served[version] = self.served.get(version, 0) + 1
