"""A control plane run inside the benchmark's process, on its own event-loop thread, with its
group commits counted (the benchmark's own instrumentation, not the product's)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class CommitStats:
    """Group commits observed by wrapping SqliteStore.write (the writer thread's work)."""

    commits: int = 0
    events: int = 0
    busy_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wrap(self, write: Callable[[Any], None]) -> Callable[[Any], None]:
        def timed(batch: Any) -> None:
            started = time.perf_counter()
            try:
                write(batch)
            finally:
                elapsed = time.perf_counter() - started
                with self.lock:
                    self.commits += 1
                    self.events += len(batch.events)
                    self.busy_s += elapsed

        return timed

    def snapshot(self) -> tuple[int, int, float]:
        with self.lock:
            return self.commits, self.events, self.busy_s


class BenchServer:
    """A ControlPlane on its own event loop thread (Ray is already connected by the caller)."""

    def __init__(
        self, data_dir: Path, namespace: str, synchronous: str, *, loop: str = "asyncio"
    ) -> None:
        """`loop`: "asyncio" (the standard event loop, what `orchestrator serve` runs) or
        "uvloop" (to measure what it would buy; needs the uvloop package)."""
        from controlplane.app import ControlPlane
        from controlplane.config import (
            GrpcConfig,
            LimitsConfig,
            RayConfig,
            ServerConfig,
            StoreConfig,
        )

        config = ServerConfig(
            store=StoreConfig(data_dir=data_dir, sqlite_synchronous=synchronous),
            grpc=GrpcConfig(host="127.0.0.1", port=0),
            ray=RayConfig(namespace=namespace, include_dashboard=False),
            # The bench's one client stands in for many: the per-caller allowances (meant
            # for one host among many) would throttle it.
            limits=LimitsConfig(
                streams_per_caller=100_000, requests_per_second=1e9, burst=1_000_000_000
            ),
        )
        self.loop: asyncio.AbstractEventLoop
        if loop == "uvloop":
            import uvloop

            self.loop = uvloop.new_event_loop()
        else:
            self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="control-plane-loop", daemon=True
        )
        self._thread.start()

        async def build() -> Any:
            return ControlPlane(config)

        self.cp = self.call(build())
        self.commit_stats = CommitStats()
        # An instance attribute shadows the method for the writer.
        self.cp.store.write = self.commit_stats.wrap(self.cp.store.write)
        self.call(self.cp.start())
        self._profiler: Any = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.cp.port}"

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 300) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def on_loop(self, fn: Callable[[], T]) -> T:
        async def run() -> T:
            return fn()

        return self.call(run())

    def start_profile(self) -> None:
        import cProfile

        self._profiler = cProfile.Profile()
        self.on_loop(self._profiler.enable)  # profiles the loop thread only

    def stop_profile(self) -> Any:
        profiler, self._profiler = self._profiler, None
        if profiler is not None:
            self.on_loop(profiler.disable)
        return profiler

    def stop(self) -> None:
        try:
            self.call(self.cp.backend.destroy_all())
        finally:
            try:
                self.call(self.cp.stop())
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
                self._thread.join(10)


def print_profile(profiler: Any, path: Path, top: int) -> None:
    """The cProfile's top functions by own and cumulative time; the raw stats go to `path`."""
    import io
    import pstats

    path.parent.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(str(path))
    for key in ("tottime", "cumulative"):
        buffer = io.StringIO()
        stats = pstats.Stats(profiler, stream=buffer).strip_dirs().sort_stats(key)
        stats.print_stats(top)
        print(f"\n--- control-plane loop thread, top {top} by {key} ---")
        print(buffer.getvalue().split("\n\n", 1)[-1].rstrip())
    print(f"\nprofile written to {path} (python -m pstats {path})")
