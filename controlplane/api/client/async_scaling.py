"""The asynchronous client's scaling methods (ScalingService), kept apart from the rest of
AsyncOrchestratorClient, which provides `_run`, `_items` and the namespace agents are named in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeVar

from controlplane.api.client import scaling_calls
from controlplane.api.client.calls import LOAD_PAGE_SIZE, Call, Paged
from models.forecasting import FittedForecast
from models.load import RAW, LoadSample
from models.scaling import PolicyView, ScalingEvent, ScalingPolicy, ScalingStatus

T = TypeVar("T")


class AsyncScalingMethods:
    page_size: int
    _namespace: str

    async def _run(self, call: Call[T]) -> T:
        raise NotImplementedError

    def _items(self, paged: Paged[T], limit: int | None = None) -> AsyncIterator[T]:
        raise NotImplementedError

    async def set_scaling_policy(self, policy: ScalingPolicy) -> PolicyView:
        return await self._run(scaling_calls.set_scaling_policy(self._namespace, policy))

    async def get_scaling_policy(self, agent: str) -> PolicyView:
        return await self._run(scaling_calls.get_scaling_policy(self._namespace, agent))

    async def delete_scaling_policy(self, agent: str) -> None:
        await self._run(scaling_calls.delete_scaling_policy(self._namespace, agent))

    async def get_scaling_status(self, agent: str, decisions: int = 0) -> ScalingStatus:
        return await self._run(scaling_calls.get_scaling_status(self._namespace, agent, decisions))

    async def get_forecast(
        self, agent: str, horizon_s: float = 0.0, model: str = "", level: float = 0.0
    ) -> FittedForecast:
        return await self._run(
            scaling_calls.get_forecast(self._namespace, agent, horizon_s, model, level)
        )

    def iter_scaling_events(
        self, agent: str, include_holds: bool = False
    ) -> AsyncIterator[ScalingEvent]:
        return self._items(
            scaling_calls.list_scaling_events(self._namespace, agent, include_holds, self.page_size)
        )

    async def list_scaling_events(
        self, agent: str, include_holds: bool = False, limit: int | None = None
    ) -> list[ScalingEvent]:
        size = self.page_size if limit is None else max(1, min(self.page_size, limit))
        paged = scaling_calls.list_scaling_events(self._namespace, agent, include_holds, size)
        return [e async for e in self._items(paged, limit)]

    def iter_load_history(
        self,
        agent: str,
        resolution: int = RAW,
        start: float | None = None,
        end: float | None = None,
    ) -> AsyncIterator[LoadSample]:
        return self._items(
            scaling_calls.get_load_history(
                self._namespace, agent, resolution, start, end, LOAD_PAGE_SIZE
            )
        )

    async def get_load_history(
        self,
        agent: str,
        resolution: int = RAW,
        start: float | None = None,
        end: float | None = None,
    ) -> list[LoadSample]:
        return [s async for s in self.iter_load_history(agent, resolution, start, end)]
