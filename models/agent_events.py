"""Agent events: the changes of an agent's replicas and rollouts, stored and streamed.

Each event is one envelope (a global sequence, a time, a type, what reported it, the agent, the
replica when it is about one, and a JSON object of data), so that the events of other parts of
the system can later share the same log and cursor.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

# What reported an event (`AgentEvent.source`).
SOURCE_BACKEND = "backend"
SOURCE_ROLLOUTS = "rollouts"


class AgentEventType(enum.Enum):
    # data: version, from, to (HEALTHY / UNHEALTHY), reason, last_error.
    REPLICA_HEALTH_CHANGED = "REPLICA_HEALTH_CHANGED"
    # data: version, from, to (CLOSED / OPEN / HALF_OPEN), reason, last_error.
    REPLICA_BREAKER_CHANGED = "REPLICA_BREAKER_CHANGED"
    # A new replica answered its first health check, or one whose node died was restarted by
    # Ray on another node. data: version, node_id (where it runs now), reason (after a restart).
    REPLICA_STARTED = "REPLICA_STARTED"
    # A replica is DEAD: drained and stopped, removed with its agent, or gone; or its node died
    # (Ray's node table lists it dead) and Ray restarts it elsewhere. data: version, reason,
    # node_id (the node it ran on, when known).
    REPLICA_STOPPED = "REPLICA_STOPPED"
    # A rollout step was applied. data: rollout_id, step (0-based), steps, message, new_weight
    # (the new version's share of attempts, null: by replica count), stable_version,
    # new_version.
    ROLLOUT_STEP = "ROLLOUT_STEP"
    # data: rollout_id, state (SUCCEEDED / ROLLED_BACK / FAILED), message, stable_version,
    # new_version; verdict and analysis_reason when a canary analysis decided it.
    ROLLOUT_ENDED = "ROLLOUT_ENDED"


@dataclass(frozen=True)
class AgentEvent:
    """One recorded change. `sequence` increases across every agent (one agent's events skip
    the numbers of the others'); `replica` is "" when the event is not about one replica."""

    sequence: int
    time: float
    agent: str
    type: AgentEventType
    source: str
    replica: str = ""
    data: dict[str, Any] = field(default_factory=dict)
