"""A data directory whose store was emptied, removed or damaged is refused at start with a
message naming the file, never served as an empty store; `orchestrator admin check` reports."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from controlplane.app import ControlPlane
from controlplane.cli.main import main
from controlplane.config import GrpcConfig, ServerConfig, StoreConfig
from controlplane.store.integrity import MARKER, StoreDamaged
from tests.unit.fake_backend import FakeBackend

WORKFLOW = "name: kept\ntasks: [{id: a, agent: work}]\n"


def config(data_dir: Path) -> ServerConfig:
    return ServerConfig(
        store=StoreConfig(data_dir=data_dir),
        grpc=GrpcConfig(host="127.0.0.1", port=0, shutdown_grace_s=0.1),
    )


def run_once(data_dir: Path, create: bool = False) -> list[str]:
    """Starts a control plane on `data_dir`, optionally stores a workflow, lists, stops."""

    async def body() -> list[str]:
        cp = ControlPlane(config(data_dir), FakeBackend())
        await cp.start()
        try:
            if create:
                await cp.catalog.create(WORKFLOW)
            return [r.name for r in cp.catalog.list(50, "")[0]]
        finally:
            await cp.stop()

    return asyncio.run(body())


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    assert run_once(tmp_path, create=True) == ["kept"]
    assert (tmp_path / MARKER).exists()
    return tmp_path


def test_an_emptied_store_is_refused_naming_the_file(data_dir: Path) -> None:
    database = StoreConfig(data_dir=data_dir).database_path
    database.write_bytes(b"")
    with pytest.raises(StoreDamaged, match=str(database)) as refused:
        run_once(data_dir)
    assert "empty" in str(refused.value)
    database.unlink()
    with pytest.raises(StoreDamaged, match="missing"):
        run_once(data_dir)
    (data_dir / MARKER).unlink()  # the operator's explicit choice to start afresh
    assert run_once(data_dir) == []


def test_a_store_with_damaged_pages_is_refused_and_admin_check_reports_it(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["admin", "check", "--data-dir", str(data_dir)]) == 0
    assert "ok" in capsys.readouterr().out
    database = StoreConfig(data_dir=data_dir).database_path
    raw = bytearray(database.read_bytes())
    page = 4096
    raw[page : 3 * page] = b"\xff" * (2 * page)  # the first pages after the header page
    database.write_bytes(bytes(raw))
    with pytest.raises(StoreDamaged, match="damaged"):
        run_once(data_dir)
    assert main(["admin", "check", "--data-dir", str(data_dir)]) == 1
    assert str(database) in capsys.readouterr().err


def test_a_store_from_before_the_marker_gets_one(data_dir: Path) -> None:
    (data_dir / MARKER).unlink()
    assert run_once(data_dir) == ["kept"]
    assert (data_dir / MARKER).exists()
