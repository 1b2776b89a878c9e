"""Files of the forecasting commands: load series from CSV, write predictions, backtest results
and the backtest figure (matplotlib Agg canvas, no pyplot).

Two CSV shapes are read:

- a value series `timestamp,value` (NAB: `2014-07-01 00:00:00,10844`): the step is the most
  common spacing between timestamps; the values land on a regular grid from the first
  timestamp and missing steps become NaN gaps. With `bin_s` the values are averaged per bin.
- an event log with a timestamp column and no `value` column (the Azure LLM inference logs:
  `TIMESTAMP,ContextTokens,GeneratedTokens`, one row per request): the events are counted per
  `bin_s` seconds (default 60), so the value is requests per bin (per second with a 1 s bin).
  A first or last bin covered less than half by the log is dropped (it would look like a dip).

Timestamps are ISO 8601 (`2014-07-01 00:00:00`, fractional seconds, `T`, offsets); times without
an offset are read as UTC. A bare number is taken as seconds since the epoch.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from models.forecasting import Forecast, Series

DEFAULT_EVENT_BIN_S = 60.0
TIMESTAMP_NAMES = ("timestamp", "time", "datetime", "date", "ts")


class SeriesFileError(ValueError):
    """A file that cannot be read as a series."""


def parse_time(text: str) -> float:
    """Seconds since the epoch of an ISO 8601 time (UTC when no offset) or a bare number."""
    value = text.strip()
    try:
        return float(value)
    except ValueError:
        pass
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise SeriesFileError(f"not a timestamp: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _columns(header: Sequence[str]) -> tuple[int, int | None]:
    names = [h.strip().lower() for h in header]
    time_col = next((names.index(n) for n in TIMESTAMP_NAMES if n in names), 0)
    value_col = names.index("value") if "value" in names else None
    if value_col is None and len(names) == 2:
        value_col = 1 - time_col  # `time,load`: the other column is the value
    return time_col, value_col


def infer_step(times: Sequence[float]) -> float:
    """The most common positive spacing (rounded to a millisecond)."""
    spacings = Counter(round(b - a, 3) for a, b in itertools.pairwise(times) if b - a > 0)
    if not spacings:
        raise SeriesFileError("cannot infer a time step: fewer than two distinct timestamps")
    step, _ = max(spacings.items(), key=lambda kv: (kv[1], -kv[0]))
    return float(step)


def regular_series(
    times: Sequence[float], values: Sequence[float], step_s: float, name: str
) -> Series:
    """Values on the grid start + i * step_s (averaged when several fall on one point)."""
    start = min(times)
    sums: dict[int, float] = {}
    counts: dict[int, int] = {}
    for t, v in zip(times, values, strict=True):
        if not math.isfinite(v):
            continue
        i = round((t - start) / step_s)
        sums[i] = sums.get(i, 0.0) + v
        counts[i] = counts.get(i, 0) + 1
    if not sums:
        raise SeriesFileError(f"{name}: no numeric value")
    length = max(sums) + 1
    grid = tuple(sums[i] / counts[i] if i in sums else math.nan for i in range(length))
    return Series(start=start, step_s=step_s, values=grid, name=name)


def binned_counts(times: Sequence[float], bin_s: float, name: str) -> Series:
    """Events per bin of `bin_s` seconds (see the module docstring for partial bins)."""
    if not times:
        raise SeriesFileError(f"{name}: no event")
    first, last = min(times), max(times)
    origin = math.floor(first / bin_s) * bin_s
    count = int((last - origin) // bin_s) + 1
    bins = [0] * count
    for t in times:
        bins[int((t - origin) // bin_s)] += 1
    start_index, end_index = 0, count
    if count > 2 and (origin + bin_s - first) < 0.5 * bin_s:
        start_index = 1
    if count > 2 and (last - (origin + (count - 1) * bin_s)) < 0.5 * bin_s:
        end_index = count - 1
    kept = bins[start_index:end_index]
    return Series(
        start=origin + start_index * bin_s,
        step_s=bin_s,
        values=tuple(float(c) for c in kept),
        name=name,
    )


def parse_series_csv(text: str, *, name: str = "", bin_s: float | None = None) -> Series:
    """A `Series` from CSV text (see the module docstring)."""
    rows = list(csv.reader(io.StringIO(text)))
    rows = [r for r in rows if r and any(cell.strip() for cell in r)]
    if len(rows) < 2:
        raise SeriesFileError(f"{name or 'input'}: expected a header and at least one row")
    time_col, value_col = _columns(rows[0])
    times: list[float] = []
    values: list[float] = []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) <= max(time_col, value_col or 0):
            raise SeriesFileError(f"{name}:{line}: expected {len(rows[0])} columns")
        times.append(parse_time(row[time_col]))
        if value_col is not None:
            cell = row[value_col].strip()
            try:
                values.append(float(cell) if cell else math.nan)
            except ValueError:
                raise SeriesFileError(f"{name}:{line}: not a number: {cell!r}") from None
    if value_col is None:
        return binned_counts(times, bin_s or DEFAULT_EVENT_BIN_S, name)
    if len(set(times)) < 2:
        raise SeriesFileError(f"{name}: fewer than two distinct timestamps")
    if bin_s:
        origin = math.floor(min(times) / bin_s) * bin_s
        binned = [origin + math.floor((t - origin) / bin_s) * bin_s for t in times]
        return regular_series(binned, values, bin_s, name)
    return regular_series(times, values, infer_step(sorted(set(times))), name)


def load_series(path: str | Path, *, bin_s: float | None = None) -> Series:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SeriesFileError(f"no such file: {file}") from None
    except IsADirectoryError:
        raise SeriesFileError(f"{file} is a directory, not a CSV file") from None
    except OSError as exc:
        raise SeriesFileError(f"cannot read {file}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SeriesFileError(f"{file}: not a UTF-8 CSV file") from None
    return parse_series_csv(text, name=file.stem, bin_s=bin_s)


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def forecast_to_json(forecast: Forecast) -> dict[str, Any]:
    """The `predict` output: model, period, ISO timestamps, mean, lower, upper, level, notes."""
    return {
        "model": forecast.model,
        "period": forecast.period,
        "timestamps": [iso(t) for t in forecast.timestamps],
        "mean": list(forecast.mean),
        "lower": list(forecast.lower),
        "upper": list(forecast.upper),
        "level": forecast.level,
        "notes": _jsonable(forecast.notes),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _jsonable(value.item())
    return value


def write_json(path: Path, payload: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_jsonable(payload), indent=2) + "\n", encoding="utf-8")
    return path


# -- backtest outputs ---------------------------------------------------------------------------

CSV_COLUMNS = (
    "model",
    "mase",
    "smape",
    "coverage",
    "fit_seconds",
    "ratio_vs_best_baseline",
    "failures",
    "chosen",
)


def write_backtest_csv(path: Path, summary: dict[str, Any]) -> Path:
    """One row per model: the means over the origins and the ratio to the better baseline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ratios = summary.get("ratio_vs_best_baseline", {})
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for name, model in summary["models"].items():
            writer.writerow(
                {
                    "model": name,
                    "mase": model["mase"],
                    "smape": model["smape"],
                    "coverage": model["coverage"],
                    "fit_seconds": model["fit_seconds"],
                    "ratio_vs_best_baseline": ratios.get(name),
                    "failures": model["failures"],
                    "chosen": ";".join(f"{k}:{v}" for k, v in model["chosen"].items()),
                }
            )
    return path


def backtest_figure(
    path: Path,
    series: Series,
    forecasts: dict[str, list[Forecast | None]],
    origins: Sequence[int],
    mase: dict[str, float],
    *,
    highlight: str = "auto",
    panels: int = 3,
) -> Path:
    """Top: actual values against every model's forecast at a few origins (the highlighted
    model's interval shaded); bottom: mean MASE per model."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    picks = _spread(len(origins), panels)
    figure = Figure(figsize=(13, 3.2 * len(picks) + 3.2), layout="constrained")
    grid = figure.add_gridspec(len(picks) + 1, 1)
    names = list(forecasts)
    shaded = highlight if highlight in forecasts else (names[-1] if names else "")
    step_h = series.step_s / 3600.0
    for row, index in enumerate(picks):
        ax = figure.add_subplot(grid[row, 0])
        origin = origins[index]
        horizon = max(
            (f.horizon for runs in forecasts.values() for f in [runs[index]] if f), default=1
        )
        start = max(0, origin - 2 * horizon)
        end = min(len(series), origin + horizon)
        hours = [(i - origin) * step_h for i in range(start, end)]
        ax.plot(hours, series.values[start:end], color="black", linewidth=1.2, label="actual")
        for name in names:
            forecast = forecasts[name][index]
            if forecast is None:
                continue
            x = [(i + 1) * step_h for i in range(forecast.horizon)]
            width = 2.0 if name == shaded else 1.0
            (line,) = ax.plot(x, forecast.mean, linewidth=width, label=forecast.model[:48])
            if name == shaded:
                ax.fill_between(
                    x,
                    forecast.lower,
                    forecast.upper,
                    color=line.get_color(),
                    alpha=0.2,
                    label=f"{forecast.level:.0%} interval",
                )
        ax.axvline(0.0, color="grey", linestyle=":", linewidth=1)
        ax.set_title(f"origin {origin} ({iso(series.start + origin * series.step_s)})")
        ax.set_xlabel("hours from the origin")
        ax.legend(fontsize=7, loc="upper left", ncols=2)
    bars = figure.add_subplot(grid[len(picks), 0])
    labels = [n for n in mase if math.isfinite(mase[n])]
    bars.bar(labels, [mase[n] for n in labels], color="#4c72b0")
    baselines = [mase[n] for n in ("naive", "snaive") if n in mase and math.isfinite(mase[n])]
    if baselines:
        bars.axhline(
            min(baselines), color="red", linestyle="--", linewidth=1, label="better baseline"
        )
        bars.legend(fontsize=8)
    bars.set_ylabel("mean MASE")
    bars.set_title(f"{series.name}: mean MASE over {len(origins)} origins")
    FigureCanvasAgg(figure)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    return path


def _spread(count: int, panels: int) -> list[int]:
    if count <= panels:
        return list(range(count))
    return sorted({round(i * (count - 1) / (panels - 1)) for i in range(panels)})
