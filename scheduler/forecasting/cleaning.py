"""Gaps and outliers: detect them, then replace them with plausible values for fitting.

- Gaps (NaN) are filled by linear interpolation of the deseasonalized series, with the seasonal
  profile (the median of each phase of the cycle) added back, so a gap of a few hours in a
  daily cycle follows the cycle instead of cutting straight across it. Leading and trailing
  gaps take the nearest value.
- Outliers are found with a Hampel filter on the deseasonalized series: a value is an outlier
  when it is more than `n_sigmas` robust standard deviations (1.4826 x the median absolute
  deviation) from the median of its window; it is replaced by that median (plus the profile).
  The window is wider than the short bursts seen in CPU traces (a spike of a few samples stays
  an outlier), while a level shift longer than half a window is not one (it becomes the new
  median).

Forecast accuracy is judged on the real values; cleaning only changes what models learn from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

MAD_TO_SIGMA = 1.4826
DEFAULT_SIGMAS = 4.0
DEFAULT_HALF_WINDOW = 12
# Floors of a window's spread (see `noise_floor`).
MIN_SPREAD_FRACTION = 0.25
STEP_NOISE_FRACTION = 1.0
DIFF_TO_SIGMA = float(np.sqrt(np.pi) / 2.0)  # E|x_t - x_t-1| = 2 sigma / sqrt(pi) for noise


@dataclass(frozen=True)
class Cleaned:
    values: np.ndarray  # gap-free, outliers replaced
    gaps: np.ndarray  # bool mask of filled values
    outliers: np.ndarray  # bool mask of replaced values
    notes: dict[str, Any] = field(default_factory=dict)


def seasonal_profile(values: np.ndarray, period: int | None) -> np.ndarray:
    """Per position, the median of its phase of the cycle (NaN-aware), centred on zero; zeros
    when there is no period or fewer than two cycles."""
    n = len(values)
    if not period or period < 2 or n < 2 * period:
        return np.zeros(n)
    phase = (np.arange(n) - n) % period  # phase 0 = the position one period before the end+1
    medians = np.zeros(period)
    for k in range(period):
        column = values[phase == k]
        column = column[np.isfinite(column)]
        medians[k] = float(np.median(column)) if column.size else np.nan
    if np.isnan(medians).any():
        medians = np.where(np.isnan(medians), np.nanmean(medians), medians)
    medians -= float(np.mean(medians))
    return np.asarray(medians[phase], dtype=float)


def fill_gaps(values: np.ndarray, period: int | None = None) -> np.ndarray:
    """NaNs replaced (see the module docstring); returns a new array."""
    y = np.asarray(values, dtype=float)
    missing = ~np.isfinite(y)
    if not missing.any():
        return y.copy()
    if missing.all():
        raise ValueError("no finite value to fill gaps from")
    profile = seasonal_profile(y, period)
    adjusted = y - profile
    index = np.arange(len(y))
    known = ~missing
    filled = adjusted.copy()
    filled[missing] = np.interp(index[missing], index[known], adjusted[known])
    return np.asarray(filled + profile, dtype=float)


def rolling_median_mad(values: np.ndarray, half_window: int) -> tuple[np.ndarray, np.ndarray]:
    """Median and median absolute deviation of each centred window (shrunk at the ends)."""
    n = len(values)
    width = 2 * half_window + 1
    if n <= width:
        med = np.full(n, float(np.median(values)))
        mad = np.full(n, float(np.median(np.abs(values - med[0]))))
        return med, mad
    windows = np.lib.stride_tricks.sliding_window_view(values, width)
    core_med = np.median(windows, axis=1)
    core_mad = np.median(np.abs(windows - core_med[:, None]), axis=1)
    med = np.empty(n)
    mad = np.empty(n)
    med[half_window : n - half_window] = core_med
    mad[half_window : n - half_window] = core_mad
    for i in list(range(half_window)) + list(range(n - half_window, n)):
        window = values[max(0, i - half_window) : i + half_window + 1]
        m = float(np.median(window))
        med[i] = m
        mad[i] = float(np.median(np.abs(window - m)))
    return med, mad


def hampel(
    values: np.ndarray,
    half_window: int = DEFAULT_HALF_WINDOW,
    n_sigmas: float = DEFAULT_SIGMAS,
) -> tuple[np.ndarray, np.ndarray]:
    """Hampel filter: (outlier mask, window medians). Values must be gap-free."""
    y = np.asarray(values, dtype=float)
    med, mad = rolling_median_mad(y, half_window)
    sigma = np.maximum(MAD_TO_SIGMA * mad, noise_floor(y))
    return np.abs(y - med) > n_sigmas * sigma, med


def noise_floor(values: np.ndarray) -> float:
    """The smallest spread a window may claim: a fraction of the whole series' robust spread,
    and the noise level seen in successive differences (from their mean absolute value, as
    for normal noise: a level shift barely moves it, and a few spikes only a little). Without
    it a flat stretch, or sparse counts that are mostly zero, would make every ordinary value
    an outlier."""
    overall = MAD_TO_SIGMA * float(np.median(np.abs(values - np.median(values))))
    diffs = np.diff(values)
    step_noise = float(np.mean(np.abs(diffs))) * DIFF_TO_SIGMA if diffs.size else 0.0
    tiny = 1e-12 * max(1.0, float(np.max(np.abs(values))))
    return max(MIN_SPREAD_FRACTION * overall, STEP_NOISE_FRACTION * step_noise, tiny)


def clean(
    values: np.ndarray,
    period: int | None = None,
    *,
    outliers: bool = True,
    half_window: int = DEFAULT_HALF_WINDOW,
    n_sigmas: float = DEFAULT_SIGMAS,
) -> Cleaned:
    """Fill gaps, then detect and replace outliers on the deseasonalized series."""
    y = np.asarray(values, dtype=float)
    gaps = ~np.isfinite(y)
    filled = fill_gaps(y, period)
    notes: dict[str, Any] = {}
    if gaps.any():
        notes["gaps_filled"] = int(gaps.sum())
    mask = np.zeros(len(y), dtype=bool)
    if outliers and len(y) >= 2 * half_window + 1:
        profile = seasonal_profile(filled, period)
        adjusted = filled - profile
        mask, medians = hampel(adjusted, half_window, n_sigmas)
        mask &= ~gaps
        if mask.any():
            filled = filled.copy()
            filled[mask] = medians[mask] + profile[mask]
            notes["outliers_replaced"] = int(mask.sum())
    return Cleaned(values=filled, gaps=gaps, outliers=mask, notes=notes)
