"""The synchronous client's scaling methods (ScalingService), kept apart from the rest of
OrchestratorClient, which provides `_run`, `_items` and the namespace agents are named in."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import TypeVar

from controlplane.api.client import scaling_calls
from controlplane.api.client.calls import LOAD_PAGE_SIZE, Call, Paged
from models.forecasting import FittedForecast
from models.load import RAW, LoadSample
from models.scaling import PolicyView, ScalingEvent, ScalingPolicy, ScalingStatus

T = TypeVar("T")


class ScalingMethods:
    page_size: int
    _namespace: str

    def _run(self, call: Call[T]) -> T:
        raise NotImplementedError

    def _items(self, paged: Paged[T]) -> Iterator[T]:
        raise NotImplementedError

    def set_scaling_policy(self, policy: ScalingPolicy) -> PolicyView:
        return self._run(scaling_calls.set_scaling_policy(self._namespace, policy))

    def get_scaling_policy(self, agent: str) -> PolicyView:
        return self._run(scaling_calls.get_scaling_policy(self._namespace, agent))

    def delete_scaling_policy(self, agent: str) -> None:
        self._run(scaling_calls.delete_scaling_policy(self._namespace, agent))

    def get_scaling_status(self, agent: str, decisions: int = 0) -> ScalingStatus:
        return self._run(scaling_calls.get_scaling_status(self._namespace, agent, decisions))

    def get_forecast(
        self, agent: str, horizon_s: float = 0.0, model: str = "", level: float = 0.0
    ) -> FittedForecast:
        """The agent's arrival-rate forecast (attempts/s), fitted first if need be."""
        return self._run(
            scaling_calls.get_forecast(self._namespace, agent, horizon_s, model, level)
        )

    def iter_scaling_events(
        self, agent: str, include_holds: bool = False
    ) -> Iterator[ScalingEvent]:
        """The agent's decisions, newest first."""
        return self._items(
            scaling_calls.list_scaling_events(self._namespace, agent, include_holds, self.page_size)
        )

    def list_scaling_events(
        self, agent: str, include_holds: bool = False, limit: int | None = None
    ) -> list[ScalingEvent]:
        """The agent's decisions, newest first (every page, or the first `limit`)."""
        size = self.page_size if limit is None else max(1, min(self.page_size, limit))
        events = self._items(
            scaling_calls.list_scaling_events(self._namespace, agent, include_holds, size)
        )
        return list(events if limit is None else itertools.islice(events, limit))

    def iter_load_history(
        self,
        agent: str,
        resolution: int = RAW,
        start: float | None = None,
        end: float | None = None,
    ) -> Iterator[LoadSample]:
        """Samples of an agent (or "pool:<name>") in [start, end), oldest first (defaults:
        the last hour)."""
        return self._items(
            scaling_calls.get_load_history(
                self._namespace, agent, resolution, start, end, LOAD_PAGE_SIZE
            )
        )

    def get_load_history(
        self,
        agent: str,
        resolution: int = RAW,
        start: float | None = None,
        end: float | None = None,
    ) -> list[LoadSample]:
        return list(self.iter_load_history(agent, resolution, start, end))
