"""Seasonal period detection: candidates from the caller's hints, the calendar (hourly, daily
and weekly cycles at the series' step) and the periodogram's strongest peaks, each scored by the
autocorrelation at its lag after removing a moving average of one period (so a trend or a level
shift does not pass for a cycle).

A candidate is kept when it scores at least `threshold`, fits `min_cycles` (3) times in the
history and is not merely an echo of a shorter kept period: a daily cycle also correlates at
7 days (and at 74 hours almost as well as at 72), so a longer candidate is kept only when the
series still correlates at its lag after the shorter period's profile (the mean of each phase)
is removed, e.g. weekly when weekdays differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import signal

HOUR_S = 3600.0
DAY_S = 86400.0
WEEK_S = 7 * DAY_S
MIN_PERIOD = 4  # shorter "cycles" are mostly noise the moving average leaves behind
DEFAULT_THRESHOLD = 0.35
# Periodogram peaks are mined from the data, so they must score higher and repeat more often.
PERIODOGRAM_EXTRA = 0.1
PERIODOGRAM_MIN_CYCLES = 3.0
PERIODOGRAM_PEAKS = 3
NEAR = 0.1  # periods within 10% of each other are the same cycle (the better-scoring one stays)


@dataclass(frozen=True)
class PeriodReport:
    periods: tuple[int, ...]  # kept periods, ascending
    main: int | None  # the best-scoring kept period
    scores: dict[int, float] = field(default_factory=dict)  # every candidate considered
    sources: dict[int, str] = field(default_factory=dict)  # hint / calendar / periodogram
    # For a candidate longer than a kept period: its score once that profile is removed.
    beyond: dict[int, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "periods": list(self.periods),
            "main": self.main,
            "scores": {str(p): round(s, 3) for p, s in sorted(self.scores.items())},
            "sources": {str(p): s for p, s in sorted(self.sources.items())},
            "beyond": {str(p): round(s, 3) for p, s in sorted(self.beyond.items())},
        }


def named_calendar_periods(step_s: float) -> dict[str, int]:
    """{"hourly", "daily", "weekly"}: the cycles that are a whole number of steps of at least 4
    (e.g. 300 s -> 12, 288, 2016; 1800 s -> daily 48 and weekly 336)."""
    out: dict[str, int] = {}
    for name, span in (("hourly", HOUR_S), ("daily", DAY_S), ("weekly", WEEK_S)):
        steps = span / step_s
        if steps >= 4 and abs(steps - round(steps)) <= 0.01 * steps:
            out[name] = round(steps)
    return out


def calendar_periods(step_s: float) -> tuple[int, ...]:
    """The calendar cycles of `named_calendar_periods`, ascending."""
    return tuple(sorted(named_calendar_periods(step_s).values()))


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average (a 2 x window average for even windows, as in classical
    decomposition); the ends use the nearest full window."""
    n = len(values)
    if window < 2 or n < window + 1:
        return np.full(n, float(np.mean(values)))
    if window % 2 == 0:
        kernel = np.full(window + 1, 1.0 / window)
        kernel[0] = kernel[-1] = 0.5 / window
    else:
        kernel = np.full(window, 1.0 / window)
    core = np.convolve(values, kernel, mode="valid")
    pad_left = (n - len(core)) // 2
    pad_right = n - len(core) - pad_left
    return np.concatenate([np.full(pad_left, core[0]), core, np.full(pad_right, core[-1])])


def lag_correlation(values: np.ndarray, lag: int) -> float:
    """Pearson correlation of the series with itself `lag` steps later."""
    if lag <= 0 or lag >= len(values) - 2:
        return 0.0
    a, b = values[:-lag], values[lag:]
    sa, sb = float(np.std(a)), float(np.std(b))
    if sa <= 0.0 or sb <= 0.0:
        return 0.0
    return float(np.mean((a - a.mean()) * (b - b.mean())) / (sa * sb))


def seasonal_score(values: np.ndarray, period: int) -> float:
    """Autocorrelation at lag `period` of the series minus its moving average of one period."""
    detrended = values - moving_average(values, period)
    return lag_correlation(detrended, period)


def phase_means(values: np.ndarray, period: int) -> np.ndarray:
    """Per position, the mean of the values at the same phase of `period`."""
    phase = np.arange(len(values)) % period
    sums = np.bincount(phase, weights=values, minlength=period)
    counts = np.bincount(phase, minlength=period)
    return np.asarray((sums / np.maximum(counts, 1))[phase], dtype=float)


def score_beyond(values: np.ndarray, period: int, base: int) -> float:
    """Autocorrelation at lag `period` of the series minus its moving average of one period and
    minus its `base` profile: what the longer cycle adds to the shorter one it repeats."""
    detrended = values - moving_average(values, period)
    return lag_correlation(detrended - phase_means(detrended, base), period)


def periodogram_candidates(values: np.ndarray, max_period: int, peaks: int) -> list[int]:
    """Periods (in steps) of the strongest periodogram peaks, refined to the best-correlated lag
    within 5% (frequency bins are coarse at long periods)."""
    n = len(values)
    if n < 8 or max_period < MIN_PERIOD:
        return []
    detrended = values - moving_average(values, min(max_period, n // 4) or 2)
    freqs, power = signal.periodogram(detrended, detrend="linear")
    mask = freqs > 0
    freqs, power = freqs[mask], power[mask]
    if freqs.size == 0:
        return []
    order = np.argsort(power)[::-1]
    out: list[int] = []
    for idx in order[: peaks * 4]:
        period = round(1.0 / freqs[idx])
        if not MIN_PERIOD <= period <= max_period:
            continue
        spread = max(1, round(0.05 * period))
        lags = range(max(MIN_PERIOD, period - spread), min(max_period, period + spread) + 1)
        best = max(lags, key=lambda lag: lag_correlation(detrended, lag))
        if all(abs(best - other) > 0.05 * other for other in out):
            out.append(best)
        if len(out) >= peaks:
            break
    return out


def detect_periods(
    values: Sequence[float] | np.ndarray,
    step_s: float | None = None,
    hints: Sequence[int] = (),
    *,
    threshold: float = DEFAULT_THRESHOLD,
    min_cycles: float = 3.0,
    max_periods: int = 2,
    use_periodogram: bool = True,
) -> PeriodReport:
    """The seasonal periods of a gap-free series (see the module docstring)."""
    y = np.asarray(values, dtype=float)
    n = len(y)
    max_period = int(n / min_cycles)
    sources: dict[int, str] = {}
    for hint in hints:
        if int(hint) >= MIN_PERIOD:
            sources.setdefault(int(hint), "hint")
    if step_s is not None:
        for period in calendar_periods(step_s):
            sources.setdefault(period, "calendar")
    if use_periodogram:
        longest = int(n / max(min_cycles, PERIODOGRAM_MIN_CYCLES))
        for period in periodogram_candidates(y, longest, PERIODOGRAM_PEAKS):
            # A peak near a named cycle is that cycle seen through coarse frequency bins.
            if all(abs(period - known) > NEAR * known for known in sources):
                sources[period] = "periodogram"
    scores = {p: seasonal_score(y, p) for p in sorted(sources) if MIN_PERIOD <= p <= max_period}

    def needed(period: int) -> float:
        return threshold + (PERIODOGRAM_EXTRA if sources[period] == "periodogram" else 0.0)

    passing = [p for p, s in scores.items() if s >= needed(p)]
    distinct: list[int] = []
    for period in sorted(passing, key=lambda p: -scores[p]):
        if all(abs(period - other) > NEAR * other for other in distinct):
            distinct.append(period)
    kept: list[int] = []
    beyond: dict[int, float] = {}
    # Shortest first, so a multiple is always compared with the cycle it repeats.
    for period in sorted(distinct):
        if kept:
            beyond[period] = min(score_beyond(y, period, k) for k in kept)
            if beyond[period] < threshold:
                continue
        kept.append(period)
    kept = sorted(kept, key=lambda p: -scores[p])[:max_periods]
    main = kept[0] if kept else None
    return PeriodReport(
        periods=tuple(sorted(kept)),
        main=main,
        scores={p: float(s) for p, s in scores.items()},
        sources={p: sources[p] for p in scores},
        beyond=beyond,
    )
