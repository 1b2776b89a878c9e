"""Records every agent's load at a fixed interval (and each pool's, summed over its agents):
arrivals, completions, queue depth, in-flight attempts, mean service time and ready replicas,
into the store's load history (with 1-minute and 1-hour roll-ups and retention)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from controlplane.engine.dispatch.dispatcher import Dispatcher
from controlplane.engine.periodic import run_every
from controlplane.store.load_history import LoadHistoryStore
from models.agents import ReplicaInfo, ReplicaState
from models.load import RAW, LoadSample

log = logging.getLogger(__name__)

POOL_PREFIX = "pool:"  # load history key of a pool's summed load
PRUNE_EVERY_S = 3600.0


class LoadRecorder:
    def __init__(
        self,
        dispatcher: Dispatcher,
        replicas_of: Callable[[str], list[ReplicaInfo]],
        agent_names: Callable[[], set[str]],
        pool_of_agent: Callable[[str], str],
        history: LoadHistoryStore,
        clock: Callable[[], float],
        interval_s: float = 10.0,
    ) -> None:
        self._dispatcher = dispatcher
        self._replicas_of = replicas_of
        self._agent_names = agent_names
        self._pool_of_agent = pool_of_agent
        self._history = history
        self._clock = clock
        self.interval_s = interval_s
        self._since = clock()
        self._pruned = 0.0

    def sample(self) -> list[LoadSample]:
        """The samples of the interval that ends now (one per agent, one per pool)."""
        start, self._since = self._since, self._clock()
        counts = self._dispatcher.take_load()
        samples = []
        for agent in sorted(self._agent_names() | set(counts)):
            arrivals, completions, service = counts.get(agent, (0.0, 0.0, 0.0))
            replicas = self._replicas_of(agent)
            in_flight = sum(r.outstanding_attempts for r in replicas)
            waiting, granted = self._dispatcher.agent_queue(agent)
            samples.append(
                LoadSample(
                    agent=agent,
                    time=start,
                    resolution=RAW,
                    arrivals=arrivals,
                    completions=completions,
                    queue_depth=float(waiting + max(0, granted - in_flight)),
                    in_flight=float(in_flight),
                    service_time_s=service,
                    replicas=float(sum(r.state is ReplicaState.READY for r in replicas)),
                )
            )
        return samples + self._pool_samples(samples, start)

    def _pool_samples(self, samples: list[LoadSample], start: float) -> list[LoadSample]:
        by_pool: dict[str, list[LoadSample]] = {}
        for sample in samples:
            pool = self._pool_of_agent(sample.agent)
            if pool:
                by_pool.setdefault(pool, []).append(sample)
        out = []
        for pool, members in sorted(by_pool.items()):
            done = sum(s.completions for s in members)
            out.append(
                LoadSample(
                    agent=POOL_PREFIX + pool,
                    time=start,
                    resolution=RAW,
                    arrivals=sum(s.arrivals for s in members),
                    completions=done,
                    queue_depth=sum(s.queue_depth for s in members),
                    in_flight=sum(s.in_flight for s in members),
                    service_time_s=sum(s.service_time_s * s.completions for s in members) / done
                    if done
                    else 0.0,
                    replicas=sum(s.replicas for s in members),
                )
            )
        return out

    async def run_once(self) -> list[LoadSample]:
        samples = self.sample()
        await asyncio.to_thread(self._history.append, samples)
        now = self._clock()
        if now - self._pruned >= PRUNE_EVERY_S:
            self._pruned = now
            await asyncio.to_thread(self._history.prune, now)
        return samples

    async def run(self) -> None:
        """Rounds every ``interval_s`` until cancelled."""
        await run_every(self.interval_s, self.run_once, log, "recording load", first_wait=True)
