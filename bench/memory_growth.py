"""Where the control plane's memory goes as executions finish: the diagnosis behind the RSS
figure of bench/store_scale.py.

Runs a real ControlPlane in this process (tests/support/server_thread.py: gRPC on a socket,
local Ray), the same no-op agent and tiny workflow as store_scale.py through the gRPC API, and
compares tracemalloc snapshots taken after each count of finished executions: the lines whose
live memory grew the most in between, and the growth per finished execution.

    .venv/bin/python bench/memory_growth.py [--runs 1000,4000] [--top 15]
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import store_scale_runs as runs  # noqa: E402
from tests.support.server_thread import ServerThread  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", default="1000,4000")
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    counts = sorted(int(part) for part in args.runs.split(","))
    tracemalloc.start(1)
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        server = ServerThread(Path(tmp) / "data", namespace="bench-memory")
        try:
            runs.prepare(server.address, replicas=2)
            done, snapshots = 0, []
            for count in counts:
                runs.run_executions(server.address, done, count - done, args.threads)
                done = count
                gc.collect()
                snapshots.append(tracemalloc.take_snapshot())
                print(f"{count} executions finished", flush=True)
        finally:
            server.stop()
    keep = [tracemalloc.Filter(False, tracemalloc.__file__)]
    first, last = (s.filter_traces(keep) for s in (snapshots[0], snapshots[-1]))
    finished = counts[-1] - counts[0]
    stats = last.compare_to(first, "lineno")
    total = sum(stat.size_diff for stat in stats)
    print(f"live memory grew {total / 1024:.0f} KiB over {finished} more finished executions")
    print(f"({total / finished:.0f} bytes per execution); the lines that grew most:")
    for stat in stats[: args.top]:
        frame = stat.traceback[0]
        print(
            f"{stat.size_diff / 1024:9.1f} KiB {stat.count_diff:+8d} blocks  "
            f"{frame.filename}:{frame.lineno}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
