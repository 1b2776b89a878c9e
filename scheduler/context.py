"""What a solver receives besides the problem: config, a time budget and a progress sink.

The clock is injected (tests pass a fake one); solvers never read the time themselves.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from models.scheduling import Progress, SolverConfig

ProgressCallback = Callable[[Progress], None]


@dataclass
class SolveContext:
    config: SolverConfig = field(default_factory=SolverConfig)
    on_progress: ProgressCallback | None = None
    clock: Callable[[], float] = time.monotonic
    started: float = field(init=False)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def elapsed(self) -> float:
        return self.clock() - self.started

    def remaining(self) -> float:
        return max(0.0, self.config.time_limit_s - self.elapsed())

    def expired(self) -> bool:
        return self.elapsed() >= self.config.time_limit_s

    def report(self, objective: float, bound: float | None = None) -> None:
        if self.on_progress is not None:
            self.on_progress(Progress(self.elapsed(), objective, bound))
