"""Discrete-event simulation of an autoscaled replica pool serving a load trace.

The model (pure: simulated time only, no clock or I/O):

- **Arrivals.** Trace value i is the number of requests expected in interval i; the simulator
  draws the actual count from Poisson(value) and spreads the arrivals uniformly over the
  interval (a Poisson process with that interval's rate), seeded. Every policy simulated with
  the same seed sees exactly the same arrivals (and service times).
- **Service.** One FCFS queue in front of c identical replicas, each serving one request at a
  time. Service times are `deterministic` (every request takes `service_time_s`: the default,
  agents doing a fixed job, and fast: with equal service times the k-th request takes the slot
  freed by the (k-c)-th, so each column of the (rows x c) arrival matrix is a Lindley
  recursion, one cumulative max in numpy) or `exponential` (M/M/c; an exact event-by-event
  loop over a heap of free times, several times slower).
- **Replicas.** A replica asked for at time t serves from t + `startup_delay_s` and is paid for
  from t. Scale-in first cancels replicas still starting (latest first), then removes ready
  replicas, idle ones first, then those finishing soonest; a busy replica drains (finishes
  its request, takes no new one) and is paid for until it is done.
- **Control.** Every `evaluation_period_s` the controller sees the pool (replicas, ready, the
  last period's utilisation and in-flight requests per ready replica, the measured service
  time, the arrival counts of every complete trace interval so far) and returns the replica
  count it wants; the simulator applies it at once.

Outputs per policy: the SLO violation rate (queueing delay > `slo_wait_s`), wait percentiles
(from a log histogram with 1.2% resolution), replica-hours (start-up and draining included),
scale events, and per trace interval the arrivals, violations (counted when the request
starts) and mean replicas. Requests still queued when the trace ends are served by the last
pool (no more decisions) so that every request has a wait; replica-hours stop at the trace end.

How it runs fast: the pool only changes when the controller changes it or a replica becomes
ready. The simulator therefore serves a batch of up to `max_batch_periods` evaluation periods at
once assuming the controller changes nothing, computes every period's metrics from cumulative
sums, and then asks the controller period by period; at the first period where it wants a
change, the batch is cut there (the pool is restored to its state at that time, later arrivals
are put back) and the change is applied. The result is identical to stepping period by period.

Its parts: `simulation_inputs` (the settings, and the controller's interface), `arrivals` (the
seeded requests), `replica_pools` (the ready replicas), `simulation_results` (what a run gives).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.forecasting import ScalingDecision, Series
from scheduler.scaling.arrivals import NO_TIMES, Arrivals, FloatArray, check_trace
from scheduler.scaling.replica_pools import ExponentialPool, FixedPool
from scheduler.scaling.simulation_inputs import Controller, PoolObservation, SimulationConfig
from scheduler.scaling.simulation_results import SimulationResult, WaitStats


def _steps(cumulative: FloatArray) -> FloatArray:
    """Per-period amounts from cumulative ones (the first period starts at 0)."""
    out = cumulative.copy()
    out[1:] -= cumulative[:-1]
    return out


def _cumulative(times: FloatArray, at: FloatArray) -> FloatArray:
    """For sorted `times`, sum over t < T of (T - t), for each T in `at`."""
    count = np.searchsorted(times, at)
    prefix = np.concatenate(([0.0], np.cumsum(times)))
    return count * at - prefix[count]


@dataclass
class _Segment:
    """A stretch of a batch with a constant set of ready replicas."""

    begin: float
    end: float
    ready: int
    saved: Any  # the pool's state at `begin`
    first: int  # index of the first request not started at `begin`
    starts: FloatArray


class _Run:
    """The state of one simulation (see `simulate`)."""

    def __init__(self, trace: Series, controller: Controller, config: SimulationConfig) -> None:
        self.trace = trace
        self.controller = controller
        self.config = config
        self.start = trace.start
        self.step = trace.step_s
        self.bins = len(trace.values)
        self.end = self.start + self.bins * self.step
        self.period = config.evaluation_period_s
        self.stream = Arrivals(trace, config)
        self.observed: list[float] = self.stream.counts.astype(np.float64).tolist()
        initial = max(0, int(controller.initial_replicas()))
        self.pool: FixedPool | ExponentialPool = (
            ExponentialPool(initial, self.start)
            if config.service_distribution == "exponential"
            else FixedPool(config.service_time_s, initial, self.start)
        )
        self.starting: list[float] = []  # ready times of replicas still starting, sorted
        self.queue: FloatArray = NO_TIMES
        self.queue_services: FloatArray | None = (
            NO_TIMES if config.service_distribution == "exponential" else None
        )
        self.waits = WaitStats()
        self.bin_violations = np.zeros(self.bins, dtype=np.int64)
        self.bin_paid = np.zeros(self.bins, dtype=np.float64)
        self.bin_ready = np.zeros(self.bins, dtype=np.float64)
        self.decisions: list[ScalingDecision] = []
        self.scale_outs = self.scale_ins = 0
        self.low = self.high = initial
        self.paid = 0.0
        self.service_total = 0.0
        self.service_count = 0

    # -- helpers --

    def replicas(self) -> int:
        return len(self.pool) + len(self.starting)

    def bin_of(self, t: float) -> int:
        return min(self.bins - 1, max(0, int((t - self.start) // self.step)))

    def view(
        self,
        t: float,
        ready: int,
        utilization: float | None,
        in_flight: float | None,
        queue_length: int,
    ) -> PoolObservation:
        return PoolObservation(
            time=t,
            replicas=self.replicas(),
            ready=ready,
            utilization=utilization,
            in_flight=in_flight,
            service_time_s=(
                self.service_total / self.service_count if self.service_count else None
            ),
            queue_length=queue_length,
            trace_start=self.start,
            step_s=self.step,
            arrival_counts=self.observed,
            complete_intervals=min(self.bins, int((t - self.start + 1e-9) // self.step)),
        )

    def apply(self, t: float, desired: int, decision: ScalingDecision | None) -> None:
        current = self.replicas()
        desired = max(0, int(desired))
        if desired == current:
            return
        if decision is not None:
            self.decisions.append(decision)
        self.low, self.high = min(self.low, desired), max(self.high, desired)
        if desired > current:
            self.scale_outs += 1
            if self.config.startup_delay_s > 0:
                self.starting.extend([t + self.config.startup_delay_s] * (desired - current))
            else:
                self.pool.add(desired - current, t)
            return
        self.scale_ins += 1
        cancel = min(len(self.starting), current - desired)
        if cancel:
            del self.starting[len(self.starting) - cancel :]
        if current - desired - cancel:
            drain = self.pool.remove(current - desired - cancel, t)
            self.paid += drain
            self.bin_paid[self.bin_of(t)] += drain

    def make_ready(self, until: float) -> None:
        """Replicas whose start-up ends at or before `until` join the pool."""
        while self.starting and self.starting[0] <= until:
            at = self.starting[0]
            count = 0
            while count < len(self.starting) and self.starting[count] == at:
                count += 1
            del self.starting[:count]
            self.pool.add(count, at)

    def record_waits(self, arrivals: FloatArray, starts: FloatArray) -> None:
        waits = starts - arrivals[: len(starts)]
        self.waits.add(waits)
        late = waits > self.config.slo_wait_s
        if late.any():
            index = ((starts[late] - self.start) // self.step).astype(np.int64)
            index = np.minimum(np.maximum(index, 0), self.bins - 1)
            np.add.at(self.bin_violations, index, 1)

    # -- one batch --

    def batch(self, t: float, periods: int) -> tuple[float, int]:
        """Serves [t, t + periods x period) and asks the controller at each period's end;
        returns where the batch was cut (a change was applied there) and the periods kept."""
        config, pool = self.config, self.pool
        stop = min(self.end, t + periods * self.period)
        new_times, new_services = self.stream.take(stop)
        if len(self.queue):
            times = np.concatenate((self.queue, new_times))
            services = (
                np.concatenate((self.queue_services, new_services))
                if self.queue_services is not None and new_services is not None
                else None
            )
        else:
            times, services = new_times, new_services
        carry = pool.free_times()
        carry = carry[carry > t]
        starting_before = list(self.starting)
        replicas = self.replicas()

        segments: list[_Segment] = []
        done = 0
        begin = t
        while True:
            edge = self.starting[0] if self.starting and self.starting[0] < stop else stop
            saved = pool.save()
            starts = pool.serve(times[done:], None if services is None else services[done:], edge)
            segments.append(_Segment(begin, edge, len(pool), saved, done, starts))
            done += len(starts)
            if edge >= stop:
                break
            self.make_ready(edge)
            begin = edge
        all_starts = np.concatenate([s.starts for s in segments]) if done else NO_TIMES
        served_services = None if services is None else services[:done]
        departures = pool.departures(all_starts, served_services)

        # Cumulative busy, in-system and ready replica-seconds at each period end (relative to
        # t, so that the sums keep their precision).
        count = max(1, math.ceil((stop - t) / self.period - 1e-9))
        ends = np.minimum(t + self.period * np.arange(1, count + 1), stop)
        rel_ends = ends - t
        rel_departures = departures - t
        carry_busy = _cumulative(carry - t, rel_ends)
        carry_busy = len(carry) * rel_ends - carry_busy  # sum of min(f, T) - t over busy ones
        gone = _cumulative(rel_departures, rel_ends)
        busy = _cumulative(all_starts - t, rel_ends) - gone + carry_busy
        in_system = _cumulative(np.maximum(times, t) - t, rel_ends) - gone + carry_busy
        ready = np.zeros(count)
        for segment in segments:
            ready += segment.ready * np.maximum(np.minimum(ends, segment.end) - segment.begin, 0.0)
        arrived = np.searchsorted(times, ends)
        started = np.searchsorted(all_starts, ends)
        ready_at = [segments[-1].ready] * count
        for segment in reversed(segments[:-1]):
            for k in range(count):
                if ends[k] < segment.end:
                    ready_at[k] = segment.ready

        if ends[-1] >= stop:  # replicas whose start-up ends exactly at `stop` count as ready
            ready_at[-1] = len(pool) + sum(1 for r in self.starting if r <= stop)

        # Ask the controller at each period end, with that period's averages.
        ready_s = _steps(ready)
        valid = ready_s > 0
        safe = np.where(valid, ready_s, 1.0)
        utilization_l = _steps(busy) / safe
        in_flight_l = _steps(in_system) / safe
        ends_list, valid_l = ends.tolist(), valid.tolist()
        utilization_l, in_flight_l = utilization_l.tolist(), in_flight_l.tolist()
        queue_l = (arrived - started).tolist()
        service_time = self.service_total / self.service_count if self.service_count else None
        decide = self.controller.decide
        cut_at, kept = stop, count
        change: tuple[int, ScalingDecision | None] | None = None
        for k in range(count):
            end_k = ends_list[k]
            if end_k >= self.end:
                break
            ok = valid_l[k]
            desired, decision = decide(
                PoolObservation(
                    time=end_k,
                    replicas=replicas,
                    ready=ready_at[k],
                    utilization=utilization_l[k] if ok else None,
                    in_flight=in_flight_l[k] if ok else None,
                    service_time_s=service_time,
                    queue_length=queue_l[k],
                    trace_start=self.start,
                    step_s=self.step,
                    arrival_counts=self.observed,
                    complete_intervals=min(
                        self.bins, int((end_k - self.start + 1e-9) // self.step)
                    ),
                )
            )
            if desired != replicas:
                cut_at, kept, change = end_k, k + 1, (desired, decision)
                break

        # Keep [t, cut_at): restore the pool and the queue as they were at cut_at.
        if cut_at < stop:
            index = next(i for i, s in enumerate(segments) if s.begin <= cut_at < s.end)
            segment = segments[index]
            pool.restore(segment.saved)
            rest = None if services is None else services[segment.first :]
            redone = pool.serve(times[segment.first :], rest, cut_at)
            all_starts = np.concatenate([*(s.starts for s in segments[:index]), redone])
            done = segment.first + len(redone)
            self.starting = [r for r in starting_before if r > segment.begin]
            arrived_by_cut = int(np.searchsorted(times, cut_at))
            self.stream.put_back(len(times) - arrived_by_cut)
            times = times[:arrived_by_cut]
            if services is not None:
                services = services[:arrived_by_cut]
        self.record_waits(times, all_starts)
        self.queue = times[done:]
        self.queue_services = None if services is None else services[done:]
        self.service_count += done
        self.service_total += (
            float(services[:done].sum()) if services is not None else done * config.service_time_s
        )
        period_starts = np.concatenate(([t], ends[: kept - 1]))
        period_bins = ((period_starts - self.start) // self.step).astype(np.int64)
        period_bins = np.minimum(np.maximum(period_bins, 0), self.bins - 1)
        paid = replicas * (ends[:kept] - period_starts)
        np.add.at(self.bin_paid, period_bins, paid)
        np.add.at(self.bin_ready, period_bins, _steps(ready[:kept]))
        self.paid += float(paid.sum())
        if change is not None:
            self.apply(cut_at, *change)
        return cut_at, kept

    def finish(self) -> int:
        """Serves whoever still waits at the trace's end; returns how many never got a
        replica (only possible with none left)."""
        pool = self.pool
        while len(self.queue):
            edge = self.starting[0] if self.starting else math.inf
            starts = pool.serve(self.queue, self.queue_services, edge)
            self.record_waits(self.queue, starts)
            self.queue = self.queue[len(starts) :]
            if self.queue_services is not None:
                self.queue_services = self.queue_services[len(starts) :]
            if edge == math.inf:
                break
            self.make_ready(edge)
        unserved = len(self.queue)
        self.bin_violations[-1] += unserved
        return unserved


def simulate(
    trace: Series,
    controller: Controller,
    config: SimulationConfig,
    on_progress: Callable[[float], None] | None = None,
) -> SimulationResult:
    """Replays `trace` (request counts per interval) through a pool scaled by `controller`."""
    check_trace(trace)
    run = _Run(trace, controller, config)
    t = run.start
    run.apply(t, *controller.decide(run.view(t, len(run.pool), None, None, 0)))
    periods = 16
    total = run.end - run.start
    while t < run.end - 1e-9:
        run.make_ready(t)
        asked = periods
        t, kept = run.batch(t, periods)
        periods = min(config.max_batch_periods, periods * 2 if kept >= asked else max(4, 2 * kept))
        if on_progress is not None:
            on_progress(min(1.0, (t - run.start) / total))
    unserved = run.finish()
    if on_progress is not None:
        on_progress(1.0)
    duration = run.end - run.start
    return SimulationResult(
        policy=controller.name,
        requests=run.waits.requests + unserved,
        violations=int(run.bin_violations.sum()),
        mean_wait_s=run.waits.mean(),
        max_wait_s=run.waits.max,
        wait_percentiles={f"p{q}": run.waits.percentile(q) for q in (50, 95, 99)},
        replica_seconds=run.paid,
        scale_outs=run.scale_outs,
        scale_ins=run.scale_ins,
        min_replicas=run.low,
        max_replicas=run.high,
        duration_s=duration,
        bin_start=run.start,
        bin_s=run.step,
        arrivals=run.stream.counts.tolist(),
        violations_per_bin=run.bin_violations.tolist(),
        replicas_per_bin=(run.bin_paid / run.step).tolist(),
        ready_per_bin=(run.bin_ready / run.step).tolist(),
        decisions=run.decisions,
        notes={"unserved": unserved} if unserved else {},
    )
