"""One server per port and per data directory: a second one fails at start with a clear
message instead of sharing the port or the store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from controlplane.api.server import BindError
from controlplane.app import ControlPlane
from controlplane.config import GrpcConfig, ServerConfig, StoreConfig
from controlplane.store.data_dir_lock import DataDirInUse
from tests.unit.fake_backend import FakeBackend


def config(data_dir: Path, port: int = 0) -> ServerConfig:
    return ServerConfig(
        store=StoreConfig(data_dir=data_dir),
        grpc=GrpcConfig(host="127.0.0.1", port=port, shutdown_grace_s=0.1),
    )


def test_a_second_control_plane_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    async def main() -> None:
        first = ControlPlane(config(tmp_path), FakeBackend())
        await first.start()
        try:
            with pytest.raises(DataDirInUse, match=str(tmp_path)):
                ControlPlane(config(tmp_path), FakeBackend())
        finally:
            await first.stop()
        # Released on stop: the same directory serves again.
        again = ControlPlane(config(tmp_path), FakeBackend())
        await again.start()
        await again.stop()

    asyncio.run(main())


def test_a_second_server_on_a_taken_port_fails_instead_of_sharing_it(tmp_path: Path) -> None:
    async def main() -> None:
        first = ControlPlane(config(tmp_path / "a"), FakeBackend())
        await first.start()
        second = ControlPlane(config(tmp_path / "b", port=first.port), FakeBackend())
        try:
            with pytest.raises(BindError, match=str(first.port)):
                await second.start()
        finally:
            await second.stop()
            await first.stop()

    asyncio.run(main())
