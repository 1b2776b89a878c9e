"""DBOS on SQLite as a durable-execution peer: one workflow of N steps run one after the
other, each step checkpointed by DBOS before the next starts.

Run in its own process (DBOS is a process-wide singleton):

    python bench/dbos_peer.py --steps 300 --dir DIR     # prints one JSON line

`run_chain` starts that process and returns None (with the reason) when DBOS is not installed
(it comes with the optional `bench` extra: pip install -e '.[bench]').
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PeerChain:
    steps: int
    seconds: float
    version: str

    @property
    def ms_per_step(self) -> float:
        return self.seconds * 1000 / self.steps


def available() -> str:
    """'' when DBOS can be imported, else why not."""
    if importlib.util.find_spec("dbos") is None:
        return "dbos is not installed (pip install -e '.[bench]')"
    return ""


def run_chain(steps: int, rounds: int = 3) -> PeerChain | str:
    """The median of `rounds` runs of an N-step workflow (after one warm-up), or why not."""
    missing = available()
    if missing:
        return missing
    with tempfile.TemporaryDirectory(prefix="bench-dbos-") as directory:
        command = [sys.executable, __file__, "--steps", str(steps), "--dir", directory]
        command += ["--rounds", str(rounds)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        return f"DBOS run failed: {done.stderr.strip().splitlines()[-1:]}"
    line = done.stdout.strip().splitlines()[-1]
    result = json.loads(line)
    return PeerChain(result["steps"], result["seconds"], result["version"])


def _main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="DBOS chain of steps on SQLite")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args(argv)

    import logging
    from importlib.metadata import version

    from dbos import DBOS, DBOSConfig

    logging.getLogger("dbos").setLevel(logging.WARNING)

    @DBOS.step()
    def step(value: int) -> int:
        return value + 1

    @DBOS.workflow()
    def chain(steps: int) -> int:
        value = 0
        for _ in range(steps):
            value = step(value)
        return value

    config: DBOSConfig = {
        "name": "bench-chain",
        "system_database_url": f"sqlite:///{args.dir / 'dbos.sqlite'}",
    }
    DBOS(config=config)
    DBOS.launch()
    try:
        chain(10)  # warm-up: tables, statements, connections
        times = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            if chain(args.steps) != args.steps:
                raise RuntimeError("the chain returned a wrong value")
            times.append(time.perf_counter() - started)
    finally:
        DBOS.destroy()
    print(
        json.dumps(
            {"steps": args.steps, "seconds": statistics.median(times), "version": version("dbos")}
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(_main())
