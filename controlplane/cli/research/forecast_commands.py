"""`orchestrator forecast predict|backtest`'s arguments and help: forecast a load series from a
CSV file (no control plane needed). The model names belong to the forecasting package
(statsmodels), so the flags that list them are added when a command is used.

The series is any `timestamp,value` CSV (regular step inferred, missing steps are gaps) or a
request log with one row per request (the Azure LLM inference traces), counted per `--bin`.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from controlplane.cli.arg_types import count_arg, fraction_arg, positive_duration
from controlplane.cli.lazy import handler

HANDLERS = "controlplane.cli.research.forecast"
DEFAULT_BACKTEST_MODELS = "naive,snaive,hw,ets,sarima,sarimax,mstl,auto"

PREDICT_EPILOG = """\
output (--out FILE): {"model", "period", "timestamps", "mean", "lower", "upper", "level",
  "series", "step_s", "last_timestamp", "notes"}: the H steps after the file's last timestamp
  (timestamps as "YYYY-MM-DD HH:MM:SS", UTC), the mean forecast and a central interval at
  --level; notes say why auto chose its model, which periods were detected, what was cleaned.
models: naive, snaive (seasonal naive), ets (exponential smoothing, chosen by AICc), hw (plain
  additive Holt-Winters), sarima (seasonal ARIMA), sarimax (regression on Fourier terms of every
  seasonal period with ARMA errors), mstl (multi-seasonal decomposition + ETS), auto (chosen by
  a rolling-origin backtest on the end of the file, MASE).
exit status: 0 on success, 2 for bad input (missing or unreadable file, bad horizon or model).
example:
  orchestrator forecast predict --trace ../shared/data/traces/nab_nyc_taxi.csv --horizon 48 \\
      --model auto --level 0.9 --out out/nyc.json
"""

BACKTEST_EPILOG = """\
output (in --out DIR):
  results.json   per model: mean MASE, sMAPE, interval coverage, fit seconds, the models auto
                 chose, and every origin's figures; plus each model's MASE over the better of
                 naive and seasonal naive (ratio_vs_best_baseline)
  results.csv    one row per model with the same means
  backtest.png   actual values against the forecasts at three origins (auto's interval
                 shaded) and a bar chart of the mean MASE per model
method: --origins origins spread evenly from --start (a fraction of the series) to the end;
  at each, every model is refitted on the values before it and scores the next H values.
  MASE divides by the in-sample error of the seasonal naive forecast (the period detected
  before the first origin; lag 1 without one).
example:
  orchestrator forecast backtest --trace ../shared/data/traces/nab_nyc_taxi.csv --horizon 48 \\
      --out out/nyc-backtest
"""


def _period(text: str) -> int:
    value = count_arg(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"a period is at least 2 steps, got {value}")
    return value


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--trace", required=True, metavar="FILE", help="timestamp,value CSV or a request log"
    )
    parser.add_argument(
        "--horizon", required=True, type=count_arg, metavar="H", help="steps to forecast"
    )
    parser.add_argument(
        "--level", type=fraction_arg, default=0.9, metavar="L", help="interval level (default: 0.9)"
    )
    parser.add_argument(
        "--bin",
        type=positive_duration,
        default=None,
        metavar="DURATION",
        help="bin width (1s, 1m, 5m): requests per bin for a request log (default 1m), the "
        "mean per bin for a value series (default: its own step)",
    )
    parser.add_argument(
        "--period",
        type=_period,
        action="append",
        default=[],
        metavar="STEPS",
        help="expected seasonal period in steps (e.g. 48 for daily at 30 min); repeatable. "
        "Hints are checked, not trusted; hourly, daily and weekly cycles are always tried",
    )


def _predict_flags(parser: argparse.ArgumentParser) -> None:
    from scheduler.forecasting import MODEL_NAMES

    _common(parser)
    parser.add_argument("--model", choices=MODEL_NAMES, default="auto")
    parser.add_argument("--out", required=True, metavar="FILE", help="JSON file to write")


def _backtest_flags(parser: argparse.ArgumentParser) -> None:
    from scheduler.forecasting import MODEL_NAMES

    _common(parser)
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument(
        "--models",
        default=DEFAULT_BACKTEST_MODELS,
        metavar="LIST",
        help=f"comma-separated, from {', '.join(MODEL_NAMES)}; naive and snaive are always "
        f"included (default: all)",
    )
    parser.add_argument(
        "--origins", type=count_arg, default=16, metavar="N", help="forecast origins (default: 16)"
    )
    parser.add_argument(
        "--start",
        type=fraction_arg,
        default=0.6,
        metavar="F",
        help="first origin at this fraction of the series (default: 0.6, the last 40%%)",
    )
    parser.add_argument(
        "--jobs",
        type=count_arg,
        default=min(2, os.cpu_count() or 1),
        metavar="J",
        help="worker processes, one model each (default: min(2, CPUs))",
    )


def add_predict_and_backtest(forecast: argparse._SubParsersAction[Any]) -> None:
    """`forecast predict` and `forecast backtest` in the `forecast` group."""
    predict = forecast.add_parser(
        "predict",
        help="fit on the whole file and forecast the next H steps",
        description="Fit a model on the whole series and write the forecast of the H steps "
        "after its last timestamp, with a central interval, as JSON.",
        epilog=PREDICT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        fill=_predict_flags,
    )
    predict.set_defaults(local_handler=handler(f"{HANDLERS}:run_predict"))

    backtest = forecast.add_parser(
        "backtest",
        help="evaluate every model with rolling origins",
        description="Refit every model at several origins in the last part of the series and "
        "score its forecasts (MASE, sMAPE, interval coverage).",
        epilog=BACKTEST_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        fill=_backtest_flags,
    )
    backtest.set_defaults(local_handler=handler(f"{HANDLERS}:run_backtest"))
