"""What authentication costs a call, against the same server without it.

Starts `orchestrator serve` twice on fresh data dirs (its own local Ray each, one after the
other): once as it runs by default on loopback (authentication off), once with `--auth` and an
API key from `auth init`. Against each, one client makes, one after the other:

1. reads: `ListWorkflows` (nothing stored: the cost is the API layer), and
2. writes: `SetQuota` (audited and committed: a store transaction and an audit record).

Both servers run the audit and limits interceptors (the rate limit raised out of the way);
the difference is the key check and the permission lookup. Reported: median and p99 latency
per call and the ratio with/without. The first call with a key pays its scrypt check (~70
ms); the rest find it remembered.

    .venv/bin/python bench/call_overhead.py [--calls 2000]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from controlplane.api.client import Credentials, OrchestratorClient  # noqa: E402
from models.queueing import NamespacePolicy  # noqa: E402
from tests.support.serve_process import BIN, Serve, free_port  # noqa: E402


def _latencies(call: Callable[[], object], calls: int) -> list[float]:
    for _ in range(min(50, calls)):  # warm the channel (and the key check)
        call()
    out = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        out.append(time.perf_counter() - start)
    return out


def _summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1e3, ordered[int(len(ordered) * 0.99) - 1] * 1e3


def measure(authenticated: bool, calls: int, base: Path) -> dict[str, tuple[float, float]]:
    data_dir = base / ("auth" if authenticated else "open")
    data_dir.mkdir()
    key = None
    extra: tuple[str, ...] = ()
    if authenticated:
        made = subprocess.run(
            [str(BIN / "orchestrator"), "auth", "init", "--data-dir", str(data_dir)],
            check=True,
            capture_output=True,
            text=True,
        )
        key = made.stdout.strip()
        extra = ("--auth",)
    # The per-caller rate limit (200/s by default) would pace a client calling back to back.
    unlimited = {"ORCHESTRATOR_LIMITS_REQUESTS_PER_SECOND": "1000000"}
    serve = Serve(data_dir, free_port(), None, unlimited, extra_args=extra)
    try:
        credentials = Credentials(api_key=key)
        with OrchestratorClient(serve.address, credentials=credentials) as client:
            reads = _latencies(client.list_workflows, calls)
            policy = NamespacePolicy("bench", weight=1)
            writes = _latencies(lambda: client.set_quota(policy), calls)
        return {"read": _summary(reads), "write": _summary(writes)}
    finally:
        serve.terminate()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        open_ = measure(False, args.calls, base)
        guarded = measure(True, args.calls, base)
    print(f"{'call':<6} {'auth off p50/p99 ms':>20} {'auth on p50/p99 ms':>20} {'p50 ratio':>10}")
    for kind in ("read", "write"):
        (o50, o99), (g50, g99) = open_[kind], guarded[kind]
        print(f"{kind:<6} {o50:>9.3f} / {o99:<8.3f} {g50:>9.3f} / {g99:<8.3f} {g50 / o50:>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
