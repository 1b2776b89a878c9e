"""Scaling policies (validated, stored durably, cached in memory), the recorded scaling events
and the load history, as the ScalingService serves them."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from controlplane.engine import paging
from controlplane.engine.agents.registry import AgentManager
from controlplane.engine.scaling.load_recorder import POOL_PREFIX
from controlplane.store.load_history import LoadHistoryStore
from controlplane.store.scaling import ScalingStore
from models.errors import FailedPrecondition, FieldViolation, NotFound, invalid
from models.load import HOUR, MINUTE, RAW, LoadHistoryPage
from models.namespaces import split_qualified
from models.scaling import PolicyView, ScalingEvent, ScalingPolicy
from models.scaling_documents import (
    NAME_RE,
    policy_from_document,
    policy_to_document,
)

log = logging.getLogger(__name__)

DEFAULT_HISTORY_S = 3600.0
RESOLUTIONS = (RAW, MINUTE, HOUR)


def _check_agent_name(agent: str, field: str = "agent") -> None:
    """`agent` is the agent's key: its name is checked (the API checked the namespace)."""
    name = split_qualified(agent)[1]
    if not NAME_RE.match(name) or len(name) > 63:
        raise invalid(field, "must name an agent: 1-63 lower-case letters, digits or '-'")


class ScalingManager:
    def __init__(
        self,
        store: ScalingStore,
        history: LoadHistoryStore,
        agents: AgentManager,
        clock: Callable[[], float],
        load_interval_s: float,
    ) -> None:
        self._store = store
        self._history = history
        self._agents = agents
        self._clock = clock
        self._load_interval_s = load_interval_s
        self._listeners: list[Callable[[str], None]] = []
        self._policies: dict[str, PolicyView] = {}
        for row in store.list_policies():
            try:
                policy = policy_from_document(row.document)
            except Exception:
                log.exception("ignoring the stored scaling policy of %s", row.agent)
                continue
            self._policies[row.agent] = PolicyView(policy, row.create_time, row.update_time)

    def subscribe(self, listener: Callable[[str], None]) -> None:
        """`listener(agent)` is called after the agent's policy was stored or deleted."""
        self._listeners.append(listener)

    def _changed(self, agent: str) -> None:
        for listener in self._listeners:
            try:
                listener(agent)
            except Exception:
                log.exception("scaling policy listener failed")

    # -- policies ---------------------------------------------------------------------------

    def policies(self) -> dict[str, ScalingPolicy]:
        return {agent: view.policy for agent, view in self._policies.items()}

    async def set_policy(self, document: dict[str, Any]) -> PolicyView:
        """Validates (InvalidArgument naming every bad field), checks the agent is deployed
        (FailedPrecondition), stores the policy with every default filled in, then uses it."""
        policy = policy_from_document(document)
        try:
            spec = self._agents.get(policy.agent).record.spec
        except NotFound:
            raise FailedPrecondition(
                f"agent {policy.agent!r} is not deployed",
                [FieldViolation("policy.agent", f"no agent named {policy.agent!r}")],
            ) from None
        predictive = document.get("predictive")
        if (
            policy.predictive is not None
            and isinstance(predictive, dict)
            and predictive.get("concurrency") is None
        ):
            # A replica serves max_concurrency attempts at once unless the policy says.
            policy = dataclasses.replace(
                policy,
                predictive=dataclasses.replace(policy.predictive, concurrency=spec.max_concurrency),
            )
        row = await asyncio.to_thread(
            self._store.put_policy, policy.agent, policy_to_document(policy), self._clock()
        )
        view = PolicyView(policy, row.create_time, row.update_time)
        self._policies[policy.agent] = view
        self._changed(policy.agent)
        return view

    def get_policy(self, agent: str) -> PolicyView:
        _check_agent_name(agent)
        view = self._policies.get(agent)
        if view is None:
            raise NotFound(
                f"agent {agent!r} has no scaling policy",
                [FieldViolation("agent", "no scaling policy")],
            )
        return view

    async def delete_policy(self, agent: str) -> None:
        self.get_policy(agent)
        await asyncio.to_thread(self._store.delete_policy, agent)
        self._policies.pop(agent, None)
        self._changed(agent)

    # -- events -----------------------------------------------------------------------------

    def list_events(
        self, agent: str, include_holds: bool, page_size: int, page_token: str
    ) -> tuple[list[ScalingEvent], str]:
        """The agent's decisions, newest first (only changes unless `include_holds`)."""
        _check_agent_name(agent)
        size = paging.page_size(page_size)
        query = {"scaling_events": agent, "holds": include_holds}
        before = paging.decode(page_token, query)
        if before is not None and not isinstance(before, int):
            raise invalid("page_token", "is not a token this server issued")
        events = self._store.list_events(agent, before, size + 1, include_holds)
        more = len(events) > size
        events = events[:size]
        token = paging.encode(events[-1].event_id, query) if more else ""
        return events, token

    def recent_decisions(self, agent: str, count: int) -> list[ScalingEvent]:
        return self._store.list_events(agent, None, count, include_holds=True)

    # -- load history -----------------------------------------------------------------------

    def load_history(
        self,
        agent: str,
        resolution: int,
        start: float | None,
        end: float | None,
        page_size: int,
        page_token: str,
    ) -> LoadHistoryPage:
        """Samples of an agent (or "pool:<name>") in [start, end), oldest first."""
        name = agent.removeprefix(POOL_PREFIX)
        _check_agent_name(name)
        if resolution not in RESOLUTIONS:
            raise invalid("resolution", "must be RAW, MINUTE or HOUR")
        end = self._clock() if end is None else end
        start = end - DEFAULT_HISTORY_S if start is None else start
        if start >= end:
            raise invalid("start", "must be before end")
        size = paging.page_size(page_size)
        query = {"load": agent, "resolution": resolution, "start": start, "end": end}
        position = paging.decode(page_token, query)
        if position is not None:
            if not isinstance(position, int | float):
                raise invalid("page_token", "is not a token this server issued")
            start = float(position)
        samples = self._history.read(agent, resolution, start, end, size + 1)
        token = paging.encode(samples[size].time, query) if len(samples) > size else ""
        interval = {RAW: self._load_interval_s, MINUTE: float(MINUTE), HOUR: float(HOUR)}
        return LoadHistoryPage(samples[:size], interval[resolution], token)
