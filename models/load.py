"""Load history of an agent (or a pool): one sample per interval (standard library only)."""

from __future__ import annotations

from dataclasses import dataclass

RAW = 0  # resolution code of raw samples (their interval is the recorder's)
MINUTE = 60
HOUR = 3600


@dataclass(frozen=True)
class LoadSample:
    """What happened to one agent in the interval starting at `time`.

    arrivals / completions: attempts that asked for capacity / ended (counts in the interval);
    queue_depth: attempts waiting (for capacity or a replica slot) at the end of the interval;
    in_flight: attempts running on replicas then; service_time_s: mean duration of the attempts
    that completed (0 when none did); replicas: READY replicas then. Rolled-up samples sum the
    counts and average the gauges over their bucket.
    """

    agent: str
    time: float
    resolution: int  # RAW, MINUTE or HOUR
    arrivals: float = 0.0
    completions: float = 0.0
    queue_depth: float = 0.0
    in_flight: float = 0.0
    service_time_s: float = 0.0
    replicas: float = 0.0


@dataclass(frozen=True)
class LoadHistoryPage:
    samples: list[LoadSample]
    interval_s: float  # what one sample covers
    next_page_token: str
