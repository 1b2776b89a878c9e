"""The ready replicas of the simulated pool, and when each is next free (FCFS, one request
at a time per replica)."""

from __future__ import annotations

import heapq
from typing import Any

import numpy as np

from scheduler.scaling.arrivals import NO_TIMES, FloatArray


class FixedPool:
    """Ready replicas with equal service times: `free` holds when each is next free, sorted.

    With FCFS and equal service times the k-th request of a batch starts at
    max(arrival_k, slot_k), where the slots are the c free times followed by the end of each
    started request: column r of the (rows x c) arrival matrix is a Lindley recursion."""

    def __init__(self, service_time_s: float, count: int, at: float) -> None:
        self.s = service_time_s
        self.free: FloatArray = np.full(count, at, dtype=np.float64)

    def __len__(self) -> int:
        return len(self.free)

    def save(self) -> FloatArray:
        return self.free

    def restore(self, saved: Any) -> None:
        self.free = saved

    def free_times(self) -> FloatArray:
        return self.free

    def serve(self, arrivals: FloatArray, services: FloatArray | None, until: float) -> FloatArray:
        """Start times of the leading requests that start before `until`."""
        c, n = len(self.free), len(arrivals)
        if n == 0 or c == 0:
            return NO_TIMES
        if n <= c:
            starts = np.maximum(arrivals, self.free[:n])
        else:
            rows = -(-n // c)
            grid = np.full(rows * c, np.inf)
            grid[:n] = arrivals
            offsets = (np.arange(rows, dtype=np.float64) * self.s)[:, None]
            lifted = np.maximum.accumulate(grid.reshape(rows, c) - offsets, axis=0)
            np.maximum(lifted, self.free, out=lifted)
            starts = (lifted + offsets).ravel()[:n]
        late = starts >= until
        if late.any():
            starts = starts[: int(late.argmax())]
        if len(starts):
            self.free = np.concatenate((self.free, starts + self.s))[len(starts) : len(starts) + c]
        return starts

    def departures(self, starts: FloatArray, services: FloatArray | None) -> FloatArray:
        return starts + self.s  # sorted, as the starts are

    def add(self, count: int, at: float) -> None:
        index = int(np.searchsorted(self.free, at))
        self.free = np.concatenate((self.free[:index], np.full(count, at), self.free[index:]))

    def remove(self, count: int, at: float) -> float:
        """Removes `count` replicas (idle first, then finishing soonest); returns the seconds
        the removed busy ones still drain."""
        gone, self.free = self.free[:count], self.free[count:]
        return float(np.maximum(gone - at, 0.0).sum())


class ExponentialPool:
    """Ready replicas with random service times: a heap of free times, request by request."""

    def __init__(self, count: int, at: float) -> None:
        self.heap: list[float] = [at] * count

    def __len__(self) -> int:
        return len(self.heap)

    def save(self) -> list[float]:
        return list(self.heap)

    def restore(self, saved: Any) -> None:
        self.heap = list(saved)

    def free_times(self) -> FloatArray:
        return np.sort(np.asarray(self.heap, dtype=np.float64))

    def serve(self, arrivals: FloatArray, services: FloatArray | None, until: float) -> FloatArray:
        heap = self.heap
        if not heap or not len(arrivals) or services is None:
            return NO_TIMES
        starts: list[float] = []
        replace = heapq.heapreplace
        for a, s in zip(arrivals.tolist(), services.tolist(), strict=True):
            f = heap[0]
            start = a if a >= f else f
            if start >= until:
                break
            replace(heap, start + s)
            starts.append(start)
        return np.asarray(starts, dtype=np.float64)

    def departures(self, starts: FloatArray, services: FloatArray | None) -> FloatArray:
        if services is None:
            raise ValueError("exponential service needs service times")
        return np.sort(starts + services[: len(starts)])

    def add(self, count: int, at: float) -> None:
        for _ in range(count):
            heapq.heappush(self.heap, at)

    def remove(self, count: int, at: float) -> float:
        drain = 0.0
        for _ in range(min(count, len(self.heap))):
            drain += max(0.0, heapq.heappop(self.heap) - at)
        return drain
