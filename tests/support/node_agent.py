"""The Node.js sample agent (samples/node-agent) as a subprocess: its dependencies installed
with `npm ci` when missing, started on a free port, its JSON log lines collected."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "node-agent"
START_TIMEOUT_S = 30.0
INSTALL_TIMEOUT_S = 300.0


def node_or_skip() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the Node.js sample agent cannot run")
    return node


def install() -> None:
    """`npm ci` from the committed lock file, once per checkout."""
    if (SAMPLE / "node_modules" / "@grpc" / "grpc-js").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed, so samples/node-agent cannot be installed")
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=SAMPLE,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_S,
    )
    if done.returncode != 0:
        raise RuntimeError(f"npm ci failed in {SAMPLE}:\n{done.stderr[-4000:]}")


class NodeAgent:
    def __init__(self) -> None:
        node = node_or_skip()
        install()
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._listening = threading.Event()
        self.proc = subprocess.Popen(
            [node, "agent.js", "--port", "0"],
            cwd=SAMPLE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._listening.wait(START_TIMEOUT_S):
            self.stop()
            errors = self.proc.stderr.read() if self.proc.stderr is not None else ""
            raise RuntimeError(f"the Node.js agent did not start: {errors[-4000:]}")
        self.port = int(self.find("listening")[0]["port"])

    @property
    def endpoint(self) -> str:
        return f"grpc://127.0.0.1:{self.port}"

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            with self._lock:
                self.events.append(event)
            if event.get("event") == "listening":
                self._listening.set()

    def find(self, kind: str, **fields: Any) -> list[dict[str, Any]]:
        with self._lock:
            return [
                e
                for e in self.events
                if e.get("event") == kind and all(e.get(k) == v for k, v in fields.items())
            ]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        deadline = time.monotonic() + 5
        while self._reader.is_alive() and time.monotonic() < deadline:
            self._reader.join(0.1)
