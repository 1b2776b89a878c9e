"""`orchestrator serve` as a subprocess, for system tests that treat the control plane as a
black box (kill it, fill its disk, restart it)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Serve:
    """`orchestrator serve` as a subprocess; ready once it prints its address."""

    def __init__(
        self,
        data_dir: Path,
        port: int,
        ray_address: str | None,
        env: dict[str, str],
        log_dir: Path | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        """`extra_args`: more flags of `serve`, e.g. `("--config", "serve.toml")`."""
        cmd = [
            str(BIN / "orchestrator"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--no-dashboard",
            "--ray-num-cpus",
            "2",
        ]
        if ray_address:
            cmd += ["--ray-address", ray_address]
        cmd += extra_args
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log = (log_dir or data_dir) / f"serve-{time.monotonic_ns()}.log"
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=self.log.open("w"),
            text=True,
            env={**os.environ, **env},
            # Its own process group: a local Ray it starts is in it, so "the machine lost the
            # control plane and its local Ray" is one killpg (orphans would slow the restart).
            start_new_session=True,
        )
        self.local_ray = ray_address is None
        self.address = f"127.0.0.1:{port}"
        ready = threading.Event()

        def read() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                if line.startswith("orchestrator serving on"):
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + 270  # a local Ray start may be retried on a busy machine
        while not ready.wait(0.5):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"serve did not start: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL; with a local Ray, the whole process group (Ray dies with it)."""
        if self.local_ray:
            os.killpg(self.proc.pid, signal.SIGKILL)
        else:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)
