"""A two-node Ray cluster on this machine: a head and a second node, each a `ray start --block`
process in its own process group with its own CPUs, so that one node can be lost (its raylet,
workers and agents SIGKILLed together) while the other keeps running."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.serve_process import BIN, free_port

# The GCS declares a node dead after this many missed health checks of this period: the
# defaults (3 s x 5) would spend most of a short test waiting for the loss to be noticed.
FAST_NODE_DEATH = {
    "RAY_health_check_period_ms": "500",
    "RAY_health_check_timeout_ms": "500",
    "RAY_health_check_failure_threshold": "3",
}
START_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class RayNode:
    process: subprocess.Popen[bytes]
    node_id: str


class TwoNodes:
    """Starts the head, then the second node, and waits until Ray lists both alive."""

    def __init__(self, work_dir: Path, cpus_per_node: int = 1) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        # Every process of the cluster (and each driver, `serve` included) presents this token.
        self.auth_env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": uuid.uuid4().hex}
        self.env = {**os.environ, **FAST_NODE_DEATH, **self.auth_env}
        self.env.pop("RAY_ADDRESS", None)
        self._work_dir = work_dir
        self._cpus_per_node = cpus_per_node
        self._started: list[subprocess.Popen[bytes]] = []
        self._seconds = 1  # second nodes started so far (each renewal starts one more)
        self._changed = False  # a node was lost or added since the second one joined
        try:
            head = self._start(
                "head",
                ["--head", f"--port={self.port}", "--include-dashboard=false"],
                cpus_per_node,
                label="head",
            )
            self.head = RayNode(head, self._wait_for_node("head"))
            second = self._start("second", [f"--address={self.address}"], cpus_per_node, "second")
            self.second = RayNode(second, self._wait_for_node("second"))
        except BaseException:
            self.stop()
            raise

    def _start(self, name: str, args: list[str], cpus: int, label: str) -> subprocess.Popen[bytes]:
        log = (self._work_dir / f"ray-{name}.log").open("w")
        cmd = [
            str(BIN / "ray"),
            "start",
            "--block",
            *args,
            f"--num-cpus={cpus}",
            "--node-ip-address=127.0.0.1",
            # Both nodes share the machine: each needs its own ports.
            f"--node-manager-port={free_port()}",
            f"--object-manager-port={free_port()}",
            f"--min-worker-port={_worker_ports(name)[0]}",
            f"--max-worker-port={_worker_ports(name)[1]}",
            f"--labels=role={label}",
            "--disable-usage-stats",
        ]
        process = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=self.env
        )
        self._started.append(process)
        return process

    def _wait_for_node(self, label: str, with_head_only: bool = False) -> str:
        """The node id of the node labelled `label` once Ray lists it alive (with
        `with_head_only`: once the head and it are the only nodes alive, every other one
        marked dead)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            alive = [n for n in self.nodes() if n.get("alive")]
            for node in alive:
                if node.get("labels", {}).get("role") == label:
                    others = {str(n["node_id"]) for n in alive} - {str(node["node_id"])}
                    if not with_head_only or others == {self.head.node_id}:
                        return str(node["node_id"])
            time.sleep(0.5)
        raise AssertionError(f"Ray node {label!r} did not join {self.address} in time")

    def nodes(self) -> list[dict[str, Any]]:
        """Ray's node table, read by a separate driver process (this one stays Ray-free)."""
        script = (
            "import json, sys, ray; ray.init(address=sys.argv[1], log_to_driver=False);"
            "print(json.dumps([{'node_id': n['NodeID'], 'alive': n['Alive'],"
            " 'labels': n.get('Labels') or {}} for n in ray.nodes()]))"
        )
        result = subprocess.run(
            [str(BIN / "python"), "-c", script, self.address],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            return []
        return list(json.loads(result.stdout.strip().splitlines()[-1]))

    def add_node(self, label: str, cpus: int = 1) -> str:
        """Starts one more node (after the second is lost: it reuses that node's worker
        ports); returns its node id once Ray lists it alive."""
        self._changed = True
        self._start(label, [f"--address={self.address}"], cpus, label)
        return self._wait_for_node(label)

    def lose_second(self) -> None:
        """SIGKILLs every process of the second node at once (its raylet, workers, agents)."""
        self._changed = True
        _kill_node(self.second.process)

    def renew_second(self) -> None:
        """Back to a head and a second node that was never lost, as after the start, for the
        next scenario on the same head: unless nothing changed, every node but the head is
        SIGKILLed and a new second node joins (with a label of its own, so that it is not
        mistaken for the old one before Ray marks that one dead)."""
        if not self._changed:
            return
        for process in self._started[1:]:
            _kill_node(process)
        del self._started[1:]
        self._seconds += 1
        label = f"second-{self._seconds}"
        process = self._start(label, [f"--address={self.address}"], self._cpus_per_node, label)
        self.second = RayNode(process, self._wait_for_node(label, with_head_only=True))
        self._changed = False

    def stop(self) -> None:
        for process in reversed(self._started):
            _kill_node(process)
        self._started.clear()


def _kill_node(process: subprocess.Popen[bytes]) -> None:
    """The node's process group, and its workers: the raylet starts each worker in a session
    of its own, so they are found as descendants instead."""
    victims = _descendants(process.pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    for pid in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait(30)


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid ...": comm may hold spaces, so split after its ")".
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: list[int] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _worker_ports(name: str) -> tuple[int, int]:
    # Disjoint worker port ranges; the head's GCS and node ports are picked free above.
    base = 20000 if name == "head" else 22000
    return base, base + 999
