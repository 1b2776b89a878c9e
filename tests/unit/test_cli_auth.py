"""`orchestrator auth ...` against a real server with authentication on: the first key from
`auth init`, keys made and revoked by the CLI, and a refusal naming the missing role."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from controlplane.cli.main import main
from tests.support.server_thread import ServerThread
from tests.unit.fake_backend import FakeBackend


@pytest.fixture
def served(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Iterator[tuple[ServerThread, str]]:
    assert main(["auth", "init", "--data-dir", str(tmp_path)]) == 0
    admin = capsys.readouterr().out.strip()
    server = ServerThread(
        tmp_path, "unused", backend=FakeBackend(), overrides={"auth.enabled": True}
    )
    try:
        yield server, admin
    finally:
        server.stop()


def test_keys_are_made_used_and_revoked_from_the_cli(
    served: tuple[ServerThread, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, admin = served
    address = ["--address", server.address]
    assert main(["auth", "whoami", *address]) != 0  # no key
    capsys.readouterr()
    assert (
        main(
            [
                "auth",
                "keys",
                "create",
                "--name",
                "ci",
                "--role",
                "viewer",
                *address,
                "--api-key",
                admin,
            ]
        )
        == 0
    )
    viewer = capsys.readouterr().out.strip()
    assert viewer.startswith("ork_")
    monkeypatch.setenv("ORCHESTRATOR_API_KEY", viewer)
    assert main(["agents", "list", *address]) == 0
    assert main(["auth", "keys", "create", "--name", "x", "--role", "admin", *address]) != 0
    assert "needs the admin role" in capsys.readouterr().err
    assert main(["auth", "keys", "revoke", "ci", *address, "--api-key", admin]) == 0
    capsys.readouterr()
    assert main(["agents", "list", *address]) != 0
    assert "UNAUTHENTICATED" in capsys.readouterr().err
