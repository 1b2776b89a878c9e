"""The last start failure of each agent, kept in memory for GetAgent and ListAgents.

A deploy whose replicas do not start rolls back: to the previous spec, or, for a new agent, to
nothing. Either way the client's call fails with a one-line cause, and the person reading it
next asks for the agent to see the whole traceback; so the failure is kept (with the spec that
failed, when nothing of the agent is stored) until the agent is deployed or scaled successfully
or deleted. It lives in memory, bounded: a restarted control plane deploys every stored agent
again and records what fails then.
"""

from __future__ import annotations

import collections
import traceback
from dataclasses import dataclass

from models.agents import AgentSpec, StartFailure
from models.backend import ReplicaStartError
from models.failures import bounded_detail, failure_summary, one_line

MAX_AGENTS = 1000


@dataclass(frozen=True)
class FailedStart:
    """The failure, and the spec that failed when it is not stored (its first deploy)."""

    failure: StartFailure
    withdrawn: AgentSpec | None = None


def start_failure(version: str, exc: BaseException, now: float) -> StartFailure:
    """The StartFailure `exc` (raised by a backend deploy or scale) stands for."""
    if isinstance(exc, ReplicaStartError):
        return StartFailure(version, one_line(exc.summary), bounded_detail(exc.detail), now)
    detail = bounded_detail("".join(traceback.format_exception(exc)))
    return StartFailure(version, failure_summary(exc), detail, now)


class StartFailures:
    """Per agent name, its last start failure (the oldest are forgotten past `limit`)."""

    def __init__(self, limit: int = MAX_AGENTS) -> None:
        self._limit = limit
        self._entries: collections.OrderedDict[str, FailedStart] = collections.OrderedDict()

    def record(self, name: str, entry: FailedStart) -> None:
        self._entries.pop(name, None)
        self._entries[name] = entry
        while len(self._entries) > self._limit:
            self._entries.popitem(last=False)

    def forget(self, name: str) -> None:
        self._entries.pop(name, None)

    def get(self, name: str) -> FailedStart | None:
        return self._entries.get(name)

    def withdrawn(self, after_name: str = "") -> list[AgentSpec]:
        """The specs of agents whose first deploy failed, by name, after `after_name`."""
        specs = [e.withdrawn for e in self._entries.values() if e.withdrawn is not None]
        return sorted((s for s in specs if s.name > after_name), key=lambda s: s.name)
