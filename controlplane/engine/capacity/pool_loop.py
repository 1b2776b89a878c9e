"""The pool reconciler: keeps every stored pool held by its placement group on the cluster.
A pure ``decide`` plus a thin shell.

Each round asks Ray for the group of every stored pool's current generation. A group that is
missing (removed behind the control plane's back with ``ray.util.remove_placement_group``, or
lost with the cluster's state) is created again under the same name, and once Ray has placed
it the replicas of the agents in the pool, which died with the old group (Ray can never
restart them: their group is gone), are replaced by new ones inside it. A group Ray cannot
place yet (PENDING) is left to Ray, which keeps trying; ``GetPool`` shows it with the reason.

Every step is recorded in the pool's ``PoolRepair`` before it is taken (``LOST`` before the
group is created, ``RECREATED`` before replicas move, ``HEALED`` after), so a restarted
control plane picks the repair up where it stopped. A step that fails is tried again after a
growing delay (``retry_delay_s``), never on every round.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from controlplane.engine.periodic import run_every
from models.capacity import PoolRepair, PoolRepairPhase, PoolView
from models.resources import PoolRealization, RealizationState

log = logging.getLogger(__name__)

# A failed step is retried after 1, 2, 4, ... seconds, at most a minute apart.
RETRY_BASE_S = 1.0
RETRY_MAX_S = 60.0


def retry_delay_s(attempts: int) -> float:
    """How long to wait after the ``attempts``-th failed try of a step."""
    return min(RETRY_BASE_S * 2 ** max(attempts - 1, 0), RETRY_MAX_S)


class PoolActionKind(enum.Enum):
    RECREATE = "RECREATE"  # the group is missing: record LOST, then create it again
    MOVE_REPLICAS = "MOVE_REPLICAS"  # the re-created group is placed: replace the replicas


@dataclass(frozen=True)
class PoolAction:
    kind: PoolActionKind
    pool: str
    generation: int


@dataclass(frozen=True)
class PoolObservation:
    """A stored pool's current generation and its group as Ray reports it."""

    pool: str
    generation: int
    # None: there is no group (when ``known``).
    status: PoolRealization | None
    # False: Ray could not be asked (nothing is concluded from this round).
    known: bool = True


def decide(
    observed: Sequence[PoolObservation], repairs: Mapping[str, PoolRepair], now: float
) -> list[PoolAction]:
    """What to do about each stored pool, given its group and its repair record (a record of
    another generation is stale: a pool update creates its own group and moves its replicas)."""
    actions: list[PoolAction] = []
    for o in sorted(observed, key=lambda o: o.pool):
        if not o.known:
            continue
        repair = repairs.get(o.pool)
        if repair is not None and repair.generation != o.generation:
            repair = None
        waiting = repair is not None and now < repair.retry_time
        if o.status is None:
            # Lost (again, if an earlier repair had finished): create it, unless a failed
            # try is still backing off.
            if not (waiting and repair is not None and repair.phase is PoolRepairPhase.LOST):
                actions.append(PoolAction(PoolActionKind.RECREATE, o.pool, o.generation))
        elif (
            o.status.state is RealizationState.READY
            and repair is not None
            and repair.outstanding
            and not waiting
        ):
            actions.append(PoolAction(PoolActionKind.MOVE_REPLICAS, o.pool, o.generation))
        # PENDING / RESCHEDULING: Ray keeps placing the group; the next round looks again.
    return actions


class PoolRepairSteps(Protocol):
    """What the loop observes and acts through; each step re-checks under the pool lock."""

    async def observe_pools(self) -> list[PoolObservation]: ...

    def pool_repairs(self) -> dict[str, PoolRepair]: ...

    async def recreate_pool(self, name: str, generation: int) -> PoolView | None: ...

    async def move_pool_replicas(self, name: str, generation: int) -> PoolView | None: ...


class PoolLoop:
    """Runs ``decide`` over the stored pools, their groups and their repair records."""

    def __init__(
        self,
        repairer: PoolRepairSteps,
        clock: Callable[[], float],
        interval_s: float = 2.0,
    ) -> None:
        self._repairer = repairer
        self._clock = clock
        self.interval_s = interval_s

    async def run_once(self) -> list[PoolAction]:
        """One round: observe, decide, act (each action re-checks under the pool lock, so a
        decision made on a snapshot never overrides a pool update or deletion)."""
        observed = await self._repairer.observe_pools()
        actions = decide(observed, self._repairer.pool_repairs(), self._clock())
        for action in actions:
            try:
                if action.kind is PoolActionKind.RECREATE:
                    await self._repairer.recreate_pool(action.pool, action.generation)
                else:
                    await self._repairer.move_pool_replicas(action.pool, action.generation)
            except Exception:
                log.exception("%s of pool %s failed", action.kind.value, action.pool)
        return actions

    async def run(self) -> None:
        """Rounds every ``interval_s`` until cancelled."""
        await run_every(self.interval_s, self.run_once, log, "pool loop round")
