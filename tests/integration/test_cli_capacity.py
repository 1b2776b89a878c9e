"""The capacity commands end to end: `orchestrator ...` (main()) against the in-process
control plane on a socket with a real local Ray (fixtures from conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from controlplane.cli.main import EXIT_REJECTED
from tests.support.server_thread import ServerThread

TINY_PROBLEM = {
    "name": "tiny",
    "num_machines": 2,
    "objective": "makespan",
    "jobs": [
        {"operations": [{"alternatives": [[0, 3]]}, {"alternatives": [[1, 2]]}]},
        {"operations": [{"alternatives": [[1, 4]]}, {"alternatives": [[0, 1]]}]},
    ],
}


class Cli:
    """Runs `orchestrator --address SERVER ARGS...` in this process and captures its output."""

    def __init__(self, address: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.address = address
        self.capsys = capsys

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        from controlplane.cli.main import main

        self.capsys.readouterr()
        code = main(["--address", self.address, "--timeout", "60", *argv])
        out, err = self.capsys.readouterr()
        return code, out, err

    def ok(self, *argv: str) -> str:
        code, out, err = self(*argv)
        assert code == 0, f"{argv} exited {code}: {err}"
        return out

    def json(self, *argv: str) -> Any:
        return json.loads(self.ok(*argv, "--json"))

    def fails(self, *argv: str) -> str:
        """A call the server refused: exit 4 and exactly one `error: ...` line, no traceback."""
        code, _, err = self(*argv)
        assert code == EXIT_REJECTED, f"{argv} exited {code}: {err}"
        assert err.startswith("error: ") and err.count("\n") == 1, err
        return err


@pytest.fixture
def cli(server: ServerThread, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(server.address, capsys)


def test_cluster_pools_and_reservations(cli: Cli) -> None:
    state = cli.json("cluster")
    assert len(state["nodes"]) >= 1
    node = state["nodes"][0]
    assert node["alive"] and node["capacity"]["cpu"] == 2
    assert "cpu" in state["fragmentation"]
    text = cli.ok("cluster")
    assert node["node_id"][:12] in text and "fragmentation" in text and "cpu=2" in text

    node_id = node["node_id"]
    pool = cli.json(
        "pools", "create", "head", "--node", node_id, "--share", "cpu=1", "--strategy", "spread"
    )
    assert pool["name"] == "head" and pool["node_ids"] == [node_id]
    assert pool["capacity"]["cpu"] == 1 and pool["strategy"] == "SPREAD"
    assert [p["name"] for p in cli.json("pools", "list")] == ["head"]
    assert "head" in cli.ok("pools", "list")
    assert "share cpu=1" in cli.ok("pools", "get", "head")

    # update keeps what is not given (the strategy and the node selector)
    updated = cli.json("pools", "update", "head", "--share", "cpu=2")
    assert updated["capacity"]["cpu"] == 2 and updated["strategy"] == "SPREAD"
    assert updated["selector"]["node_ids"] == [node_id]
    err = cli.fails("pools", "update", "head", "--share", "cpu=64")
    assert err.startswith("error: FAILED_PRECONDITION") and "pool.share" in err
    assert "head" in cli.ok("cluster")  # the node lists its pool

    first = cli.json(
        "reserve", "--namespace", "team-a", "--pool", "head", "--cpu", "2",
        "--start", "+1m", "--duration", "1h", "--request-id", "cli-r1",
    )  # fmt: skip
    assert first["state"] == "PENDING" and first["duration_s"] == 3600
    assert first["resources"]["cpu"] == 2
    again = cli.json(
        "reserve", "--namespace", "team-a", "--pool", "head", "--cpu", "2",
        "--duration", "1h", "--request-id", "cli-r1",
    )  # fmt: skip
    assert again["reservation_id"] == first["reservation_id"]
    conflict = cli.fails(
        "reserve", "--namespace", "team-b", "--pool", "head", "--cpu", "1", "--duration", "2h"
    )
    assert conflict.startswith("error: RESOURCE_EXHAUSTED") and first["reservation_id"] in conflict

    rid = first["reservation_id"]
    assert "PENDING" in cli.ok("reservations", "get", rid)
    assert "pool 'head' has 1 pending or active" in cli.fails("pools", "delete", "head")
    assert cli.json("reservations", "cancel", rid)["state"] == "CANCELLED"
    assert "FAILED_PRECONDITION" in cli.fails("reservations", "cancel", rid)
    assert "NOT_FOUND" in cli.fails("reservations", "get", "no-such-reservation")

    assert "deleted pool head" in cli.ok("pools", "delete", "head")
    assert cli.fails("pools", "get", "head").startswith("error: NOT_FOUND")
    bad = cli.fails("pools", "create", "Bad_Name")
    assert bad.startswith("error: INVALID_ARGUMENT") and "pool.name" in bad


def test_quota_set_and_get(cli: Cli) -> None:
    fresh = cli.json("quota", "get", "team-q")
    assert fresh["weight"] == 1 and fresh["max"] is None

    quota = cli.json(
        "quota", "set", "team-q", "--cpu", "2", "--memory", "1Gi", "--custom", "acc=1",
        "--max-replicas", "4", "--max-executions", "3", "--weight", "2", "--priority", "5",
        "--backpressure", "reject", "--placement-policy", "worst-fit",
        "--batch-scheduler", "cpsat", "--plan-interval", "10s",
    )  # fmt: skip
    assert quota["max"] == {"cpu": 2, "memory": 1 << 30, "gpu": 0, "custom": {"acc": 1}}
    assert (quota["max_replicas"], quota["max_concurrent_executions"]) == (4, 3)
    assert (quota["weight"], quota["priority"], quota["backpressure"]) == (2, 5, "REJECT")
    assert (quota["placement_policy"], quota["batch_scheduler"]) == ("worst-fit", "cpsat")
    assert quota["plan_interval_s"] == 10

    # flags not given keep their stored values
    changed = cli.json("quota", "set", "team-q", "--max-executions", "0", "--memory", "2Gi")
    assert changed["max_concurrent_executions"] is None
    assert changed["max"]["memory"] == 2 << 30 and changed["max"]["cpu"] == 2
    assert (changed["weight"], changed["priority"]) == (2, 5)
    assert cli.json("quota", "get", "team-q") == changed
    text = cli.ok("quota", "get", "team-q")
    assert "namespace team-q" in text and "memory=2Gi" in text and "reject" in text

    assert "INVALID_ARGUMENT" in cli.fails("quota", "get", "Not A Namespace")


def test_schedulers_and_plans(cli: Cli, tmp_path: Path) -> None:
    names = {s["name"] for s in cli.json("schedulers")}
    assert {"cpsat", "ga", "ml", "spt", "auto"} <= names
    assert "cpsat" in cli.ok("schedulers")

    problem = tmp_path / "tiny.json"
    problem.write_text(json.dumps(TINY_PROBLEM))
    plan = cli.json("plan", "--problem", str(problem), "--scheduler", "cpsat", "--time-limit", "5s")
    assert plan["scheduler"] == "cpsat" and plan["status"] == "OPTIMAL"
    assert plan["bound"] == plan["objective"] == max(o["end"] for o in plan["operations"])
    assert len(plan["operations"]) == 4
    text = cli.ok("plan", "--problem", str(problem), "--scheduler", "spt")
    assert text.startswith("plan by spt:") and "MACHINE" in text and "job 1 op 1 (#3)" in text

    assert "scheduler" in cli.fails("plan", "--problem", str(problem), "--scheduler", "magic")
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    assert "problem_json" in cli.fails("plan", "--problem", str(empty))


def test_plan_for_a_namespace_is_sent_and_answered_cleanly(cli: Cli) -> None:
    # Planning a namespace's live work may not be served yet: either a plan comes back or
    # the server's error is shown as one line, never a traceback.
    code, out, err = cli("plan", "--namespace", "team-p", "--time-limit", "2s", "--json")
    if code == 0:
        assert "operations" in json.loads(out)
    else:
        assert code == EXIT_REJECTED and err.startswith("error: ") and err.count("\n") == 1, err
        assert "Traceback" not in err
