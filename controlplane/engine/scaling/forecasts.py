"""Fits every predictive policy's arrival-rate forecast from the load history, on a schedule,
in a worker thread, and keeps the last fitted forecast per agent for the scaling loop.

Fitting never runs on the event loop or on a request path: `run` refits each agent with a
predictive policy every `refit_interval_s` (and at once when its policy changes) in a
dedicated single-thread executor, one agent at a time; the scaling loop reads the last result
(`latest`). `get` (GetForecast) returns the last fitted forecast when it matches the request
(model, level, horizon) and is not older than the refit interval; otherwise it asks the same
worker to fit once and waits for that fit (so a forecast exists even for an agent without a
predictive policy). A failed fit keeps the previous forecast and records why.

The series fitted is the arrival rate (attempts per second) in steps of `step_s`: each load
sample's arrivals are spread evenly over the time it covers (from its start to the next
sample's), so the series is exact even when samples are not aligned to the steps; steps less
than half covered are gaps (NaN), and the step still in progress is left out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from controlplane.engine.scaling.load_recorder import POOL_PREFIX
from controlplane.store.load_history import LoadHistoryStore
from models.errors import FailedPrecondition, FieldViolation, invalid
from models.forecasting import FittedForecast, Forecast, Series
from models.load import HOUR, MINUTE, RAW, LoadSample
from models.namespaces import split_qualified
from models.scaling import ScalingPolicy
from models.scaling_documents import NAME_RE
from scheduler.forecasting import MODEL_NAMES, forecast
from scheduler.scaling.strategies import period_hints

log = logging.getLogger(__name__)

DEFAULT_LEVEL = 0.9
MAX_HORIZON_S = 7 * 86400.0
MAX_HORIZON_STEPS = 10_000
RETRY_AFTER_FAILURE_S = 60.0

# (series, horizon steps, model, level, period hints) -> forecast; runs in the worker thread.
FitFunction = Callable[[Series, int, str, float, tuple[int, ...]], Forecast]


def fit_forecast(
    series: Series, horizon: int, model: str, level: float, hints: tuple[int, ...]
) -> Forecast:
    return forecast(series, horizon, model=model, level=level, period_hints=hints)


@dataclass(frozen=True)
class ForecastSettings:
    refit_interval_s: float = 300.0
    step_s: float = 60.0
    history_s: float = 86400.0
    model: str = "auto"
    # The scaling loop's period: a forecast must cover the decisions until the next refit.
    evaluation_period_s: float = 15.0
    load_interval_s: float = 10.0
    min_points: int = 4


class ForecastUnavailable(FailedPrecondition):
    """Not enough load history to fit (or the fit failed)."""


def resolution_for(step_s: float) -> tuple[int, float | None]:
    """The load history resolution to build a series of `step_s` from, and what one of its
    samples covers (None: the recorder's interval)."""
    if step_s >= HOUR:
        return HOUR, float(HOUR)
    if step_s >= MINUTE:
        return MINUTE, float(MINUTE)
    return RAW, None


def arrival_rate_series(
    samples: Sequence[LoadSample], sample_s: float, step_s: float, until: float, name: str = ""
) -> Series | None:
    """Arrivals per second in steps of `step_s` (aligned to multiples of it) from samples that
    each cover `sample_s` from their time (or up to the next sample). Only steps that end by
    `until` are included; those less than half covered are NaN. None: no complete step."""
    ordered = sorted(samples, key=lambda s: s.time)
    if not ordered or step_s <= 0:
        return None
    origin = math.floor(ordered[0].time / step_s) * step_s
    covered: dict[int, float] = {}
    arrivals: dict[int, float] = {}
    last_end = origin
    for i, sample in enumerate(ordered):
        begin = sample.time
        nominal_end = begin + sample_s
        following = ordered[i + 1].time if i + 1 < len(ordered) else nominal_end
        # A sample covers up to the next one, unless one is missing (the recorder was down):
        # then its own interval, and the rest is a gap.
        end = following if following - begin <= 1.5 * sample_s else nominal_end
        end = min(end, until)
        if end <= begin:
            continue
        last_end = max(last_end, end)
        span = end - begin
        k = math.floor((begin - origin) / step_s)
        while True:
            low = origin + k * step_s
            high = low + step_s
            overlap = min(end, high) - max(begin, low)
            if overlap > 0:
                covered[k] = covered.get(k, 0.0) + overlap
                arrivals[k] = arrivals.get(k, 0.0) + sample.arrivals * overlap / span
            if high >= end:
                break
            k += 1
    steps = math.floor((min(last_end, until) - origin) / step_s + 1e-9)
    if steps <= 0:
        return None
    values = tuple(
        arrivals[k] / covered[k] if covered.get(k, 0.0) >= 0.5 * step_s else math.nan
        for k in range(steps)
    )
    return Series(start=origin, step_s=step_s, values=values, name=name)


class ForecastWorker:
    def __init__(
        self,
        history: LoadHistoryStore,
        policies: Callable[[], Mapping[str, ScalingPolicy]],
        clock: Callable[[], float],
        settings: ForecastSettings,
        fit: FitFunction = fit_forecast,
    ) -> None:
        self._history = history
        self._policies = policies
        self._clock = clock
        self.settings = replace(
            settings, step_s=max(settings.step_s, settings.load_interval_s, 1e-3)
        )
        self._fit = fit
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="forecast")
        self._current: dict[str, FittedForecast] = {}  # the scheduled fits
        self._extra: dict[tuple[str, str, float], FittedForecast] = {}  # fitted on request
        self._attempted: dict[str, float] = {}
        self._dirty: set[str] = set()
        self._errors: dict[str, str] = {}
        self._pending: dict[
            tuple[str, str, float], tuple[float, asyncio.Future[FittedForecast]]
        ] = {}
        self._wake = asyncio.Event()
        self.fits = 0  # every fit run by the worker (for tests and status)

    # -- what the scaling loop and the API read ----------------------------------------------

    def latest(self, agent: str) -> FittedForecast | None:
        """The last scheduled fit of the agent's forecast (None: none yet)."""
        return self._current.get(agent)

    def error(self, agent: str) -> str:
        """Why the agent's last scheduled fit failed ("" when it did not)."""
        return self._errors.get(agent, "")

    def policy_changed(self, agent: str) -> None:
        """Refit the agent's forecast at the next chance (call on the event loop)."""
        self._dirty.add(agent)
        self._wake.set()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- the schedule -------------------------------------------------------------------------

    def _level(self, policy: ScalingPolicy | None) -> float:
        return policy.predictive.level if policy and policy.predictive else DEFAULT_LEVEL

    def _horizon_end(self, policy: ScalingPolicy, now: float) -> float:
        lead = policy.predictive.lead_time_s if policy.predictive else 0.0
        s = self.settings
        return now + s.refit_interval_s + lead + 2 * s.evaluation_period_s

    def due(self, agent: str, now: float) -> bool:
        if agent in self._dirty:
            return True
        last = self._attempted.get(agent)
        if last is None:
            return True
        wait = self.settings.refit_interval_s
        if agent in self._errors:
            wait = min(wait, RETRY_AFTER_FAILURE_S)
        return now - last >= wait

    async def run_once(self) -> list[str]:
        """Refits every due agent with a predictive policy; returns the agents refitted."""
        policies = self._policies()
        for agent in [a for a in self._current if a not in policies]:
            del self._current[agent]
        # A policy changed to one without forecasts (or deleted) has nothing to refit: left
        # marked, `run` would go round without ever waiting.
        self._dirty = {
            a for a in self._dirty if a in policies and policies[a].predictive is not None
        }
        now = self._clock()
        for key in [k for k, f in self._extra.items() if now - f.fit_time > 2 * self._max_age()]:
            del self._extra[key]
        fitted = []
        for agent, policy in sorted(policies.items()):
            if policy.predictive is None or not self.due(agent, now):
                continue
            self._dirty.discard(agent)
            self._attempted[agent] = now
            model, level = self.settings.model, self._level(policy)
            try:
                result = await self._in_worker(agent, model, level, self._horizon_end(policy, now))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._errors[agent] = str(exc)
                log.info("forecast of %s not refitted: %s", agent, exc)
                continue
            self._errors.pop(agent, None)
            self._current[agent] = result
            fitted.append(agent)
        return fitted

    def _max_age(self) -> float:
        return self.settings.refit_interval_s

    def _next_due_in(self) -> float:
        now = self._clock()
        waits = [self.settings.refit_interval_s]
        for agent, policy in self._policies().items():
            if policy.predictive is None:
                continue
            last = self._attempted.get(agent)
            if last is None:
                return 0.0
            wait = self.settings.refit_interval_s
            if agent in self._errors:
                wait = min(wait, RETRY_AFTER_FAILURE_S)
            waits.append(last + wait - now)
        return max(0.0, min(waits))

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("forecast refit failed")
            if self._dirty:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.05, self._next_due_in()))

    # -- on request -------------------------------------------------------------------------

    async def get(
        self, agent: str, horizon_s: float = 0.0, model: str = "", level: float = 0.0
    ) -> FittedForecast:
        """GetForecast: the last fitted forecast matching the request, or one fitted now in
        the worker (see the module docstring). `horizon_s` 0: what the fit covers."""
        name = split_qualified(agent.removeprefix(POOL_PREFIX))[1]
        if not NAME_RE.match(name) or len(name) > 63:
            raise invalid("agent", "must name an agent (or a pool as 'pool:<name>')")
        if model and model not in MODEL_NAMES:
            raise invalid("model", f"must be one of {', '.join(MODEL_NAMES)}")
        if level and not 0 < level < 1:
            raise invalid("level", "must be in (0, 1)")
        if not 0 <= horizon_s <= MAX_HORIZON_S:
            raise invalid("horizon", f"must be between 0 and {MAX_HORIZON_S:g}s")
        policy = self._policies().get(agent)
        model = model or self.settings.model
        level = level or self._level(policy)
        now = self._clock()
        until = now + horizon_s if horizon_s else None
        fresh = [self._current.get(agent), self._extra.get((agent, model, level))]
        for candidate in fresh:
            if (
                candidate is not None
                and candidate.requested_model == model
                and candidate.forecast.level == level
                and now - candidate.fit_time <= self._max_age()
                and (until is None or candidate.end() >= until)
            ):
                return candidate.until(until) if until is not None else candidate
        if until is None:
            until = self._horizon_end(policy, now) if policy else now + self._default_span()
        result = await self._in_worker(agent, model, level, until)
        self._extra[(agent, model, level)] = result
        return result.until(until) if horizon_s else result

    def _default_span(self) -> float:
        s = self.settings
        return s.refit_interval_s + 2 * s.evaluation_period_s

    # -- the worker ---------------------------------------------------------------------------

    async def _in_worker(
        self, agent: str, model: str, level: float, until: float
    ) -> FittedForecast:
        """Fits in the worker thread. A request made while a fit of the same agent, model and
        level is pending (or queued) waits for that fit when it reaches as far."""
        key = (agent, model, level)
        pending = self._pending.get(key)
        if pending is not None and pending[0] >= until:
            return await asyncio.shield(pending[1])
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(
            self._executor, self._fit_blocking, agent, model, level, until
        )
        entry = (until, future)
        self._pending[key] = entry

        def forget(_: object) -> None:
            if self._pending.get(key) is entry:
                del self._pending[key]

        future.add_done_callback(forget)
        return await asyncio.shield(future)

    def _fit_blocking(self, agent: str, model: str, level: float, until: float) -> FittedForecast:
        """Runs in the worker thread: reads the history, builds the series, fits."""
        s = self.settings
        now = self._clock()
        resolution, sample_s = resolution_for(s.step_s)
        lag = 0.0 if resolution == RAW else s.load_interval_s
        samples = self._history.read(agent, resolution, now - s.history_s, now + 1.0)
        series = arrival_rate_series(
            samples, sample_s or s.load_interval_s, s.step_s, now - lag, name=agent
        )
        points = sum(1 for v in series.values if math.isfinite(v)) if series else 0
        if series is None or points < s.min_points:
            raise ForecastUnavailable(
                f"not enough load history to forecast {agent!r} ({points} of {s.min_points} "
                f"steps of {s.step_s:g}s)",
                [FieldViolation("agent", "not enough load history")],
            )
        first = series.end + s.step_s
        horizon = max(1, math.ceil((until - first) / s.step_s))
        horizon = min(horizon, MAX_HORIZON_STEPS)
        started = time.monotonic()
        try:
            result = self._fit(series, horizon, model, level, period_hints(s.step_s))
        except Exception as exc:
            raise ForecastUnavailable(
                f"forecast of {agent!r} failed: {type(exc).__name__}: {exc}",
                [FieldViolation("agent", "the forecast could not be fitted")],
            ) from exc
        self.fits += 1
        return FittedForecast(
            agent=agent,
            forecast=result,
            requested_model=model,
            step_s=s.step_s,
            fit_time=self._clock(),
            fit_duration_s=time.monotonic() - started,
            history_points=points,
            history_end=series.end,
        )
