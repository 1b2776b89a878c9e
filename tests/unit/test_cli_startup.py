"""`orchestrator --help` (and a client command's help) is built without the heavy modules the
commands need to run: those are imported by the handlers, when a command runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = (
    "ray",
    "ortools",
    "statsmodels",
    "sklearn",
    "scipy",
    "matplotlib",
    "pandas",
    "numpy",
    "grpc",
    "controlplane.engine",
    "controlplane.store",
    "controlplane.app",
    "controlplane.api",
)


def imported_modules(*argv: str) -> set[str]:
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "controlplane.cli.main", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage: orchestrator" in result.stdout
    return {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["pools", "create", "--help"],
        ["scaling", "--help"],
        ["scaling", "status", "--help"],
        ["forecast", "--help"],
        ["bench", "--help"],
    ],
)
def test_help_imports_no_heavy_module(argv: list[str]) -> None:
    modules = imported_modules(*argv)
    assert "controlplane.cli.parser" in modules  # the trace is of the real command
    assert heavy(modules) == []


@pytest.mark.parametrize(
    ("argv", "listed"),
    [
        (["scaling", "simulate", "--help"], "reactive,predictive,static-peak,oracle"),
        (["scaling", "policy", "set", "--help"], "in_flight, utilization, queue_depth"),
        (["forecast", "backtest", "--help"], "auto, naive, drift, snaive, ets, hw"),
        (["bench", "placement", "--help"], "first-fit best-fit worst-fit"),
    ],
)
def test_deferred_flags_list_their_names_in_help(
    argv: list[str], listed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from controlplane.cli.main import main

    assert main(argv) == 0
    assert listed in " ".join(capsys.readouterr().out.split())
