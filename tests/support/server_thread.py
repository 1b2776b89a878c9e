"""Runs a real ControlPlane (gRPC on a socket, real local Ray unless given another backend) on
an event loop in a background thread, so synchronous tests can talk to it like any client
would."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any, TypeVar

from controlplane.app import ControlPlane
from controlplane.config import GrpcConfig, RayConfig, ServerConfig, StoreConfig
from controlplane.ports import AgentBackend

T = TypeVar("T")


class ServerThread:
    def __init__(
        self,
        data_dir: Path,
        namespace: str,
        backend: AgentBackend | None = None,
        overrides: Mapping[str, object] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`backend`: e.g. the in-process one of unit tests (default: Ray in `namespace`);
        `overrides`: other settings by path, e.g. `{"loops.scaling_interval_s": 1.0}`;
        `clock`: the control plane's wall clock."""
        config = ServerConfig(
            store=StoreConfig(data_dir=data_dir),
            grpc=GrpcConfig(host="127.0.0.1", port=0),
            ray=RayConfig(namespace=namespace, include_dashboard=False),
        ).override(overrides or {})
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.control_plane: ControlPlane = self.call(self._build(config, backend, clock))
        self.call(self.control_plane.start())

    @staticmethod
    async def _build(
        config: ServerConfig, backend: AgentBackend | None, clock: Callable[[], float]
    ) -> ControlPlane:
        return ControlPlane(config, backend, clock)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.control_plane.port}"

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self, destroy_replicas: bool = True) -> None:
        backend: Any = self.control_plane.backend
        if destroy_replicas and hasattr(backend, "destroy_all"):
            self.call(backend.destroy_all())
        self.call(self.control_plane.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
