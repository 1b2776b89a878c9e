"""The capacity commands without a server: value parsers, argument parsing, usage errors,
the proto -> view conversions the client uses, and rendering."""

from __future__ import annotations

import argparse
import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from controlplane.api.codec import resources as resource_codec
from controlplane.api.codec import scheduling as scheduling_codec
from controlplane.cli import arg_types
from controlplane.cli.client import capacity, capacity_values
from controlplane.cli.client import capacity_render as view
from controlplane.cli.main import EXIT_UNREACHABLE, main
from controlplane.cli.parser import build_parser
from controlplane.engine.planning.planner import plan_result
from models.capacity import (
    ClusterUsage,
    ClusterView,
    PoolRecord,
    PoolSpec,
    PoolView,
    Reservation,
    ReservationState,
)
from models.queueing import Backpressure, NamespacePolicy, NamespaceUsage, Quota
from models.resources import NodeInfo, NodeSelector, PlacementStrategy, ResourceAmounts
from models.scheduling import PlannedOperation, PlanResult, SchedulerInfo, SolveStatus
from scheduler import solve
from scheduler.instances.json_io import problem_from_dict

GI = 1 << 30
# Port 1 on loopback refuses connections: a command that got as far as calling would fail
# with UNAVAILABLE, so a usage error proves nothing was sent.
NOWHERE = ["--address", "127.0.0.1:1", "--timeout", "5"]

TINY_PROBLEM = {
    "name": "tiny",
    "num_machines": 2,
    "jobs": [
        {"operations": [{"alternatives": [[0, 3]]}, {"alternatives": [[1, 2]]}]},
        {"operations": [{"alternatives": [[1, 4]]}, {"alternatives": [[0, 1]]}]},
    ],
}


def parse(argv: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def rendered(*renderables: object, width: int = 200) -> str:
    console = Console(record=True, width=width, highlight=False, color_system=None)
    for r in renderables:
        console.print(r)
    return console.export_text()


# -- value parsers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1073741824", GI),
        ("0", 0),
        ("512Mi", 512 << 20),
        ("8Gi", 8 * GI),
        ("1.5Gi", 3 * GI // 2),
        ("8GiB", 8 * GI),
        ("8gi", 8 * GI),
        ("1G", 10**9),
        ("1GB", 10**9),
        ("500M", 500 * 10**6),
        ("2k", 2000),
        ("2Ki", 2048),
        (" 4 Gi ", 4 * GI),
        ("1Ti", 1 << 40),
    ],
)
def test_parse_size(text: str, expected: int) -> None:
    assert capacity_values.parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "Gi", "-1Gi", "8Xi", "eight", "1e9", "8 Gi extra", "1..2G"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="512Mi"):
        capacity_values.parse_size(text)


def test_parse_amounts() -> None:
    amounts = capacity_values.parse_amounts("cpu=4,memory=8Gi,gpu=1,acc=2")
    assert amounts == ResourceAmounts(cpu=4, memory=8 * GI, gpu=1, custom={"acc": 2})
    assert capacity_values.parse_amounts("cpu=0.5,") == ResourceAmounts(cpu=0.5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "RESOURCE=AMOUNT"),
        ("cpu", "KEY=VALUE"),
        ("cpu=x", "cpu: expected a number"),
        ("cpu=-1", "cpu: must be a finite number >= 0"),
        ("memory=lots", "memory: expected bytes"),
        ("cpu=1,cpu=2", "given twice"),
        ("acc=nan", "acc: must be"),
    ],
)
def test_parse_amounts_rejects(text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        capacity_values.parse_amounts(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pack", PlacementStrategy.PACK),
        ("SPREAD", PlacementStrategy.SPREAD),
        ("strict-pack", PlacementStrategy.STRICT_PACK),
        ("strict_spread", PlacementStrategy.STRICT_SPREAD),
        ("PLACEMENT_STRATEGY_PACK", PlacementStrategy.PACK),
    ],
)
def test_parse_strategy(text: str, expected: PlacementStrategy) -> None:
    assert capacity_values.parse_strategy(text) is expected


def test_parse_strategy_rejects_naming_the_choices() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="STRICT_SPREAD"):
        capacity_values.parse_strategy("diagonal")


def test_durations() -> None:
    assert arg_types.positive_duration("30s") == 30
    assert arg_types.positive_duration("5m") == 300
    assert arg_types.positive_duration("1h30m") == 5400
    assert arg_types.positive_duration("2.5") == 2.5
    for bad in ("0s", "0", "-5s", "1y", "soon", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            arg_types.positive_duration(bad)


def test_parse_start() -> None:
    assert capacity_values.parse_start("now").resolve(1000.0) == 1000.0
    assert capacity_values.parse_start("+10m").resolve(1000.0) == 1600.0
    start = capacity_values.parse_start("2030-01-02T03:04:05Z")
    expected = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()
    assert start.resolve(0.0) == expected
    assert capacity_values.parse_start("2030-01-02T03:04:05+00:00").resolve(5.0) == expected
    for bad in ("tomorrow", "+forever", "2030-13-01"):
        with pytest.raises(argparse.ArgumentTypeError):
            capacity_values.parse_start(bad)


def test_labels_and_custom_amounts() -> None:
    assert capacity_values.parse_label("zone=in(a,b)") == ("zone", "in(a,b)")
    assert capacity_values.parse_custom_amount("acc=2") == ("acc", 2.0)
    with pytest.raises(argparse.ArgumentTypeError, match="--cpu"):
        capacity_values.parse_custom_amount("cpu=2")
    with pytest.raises(argparse.ArgumentTypeError, match="KEY=VALUE"):
        capacity_values.parse_label("zone")


# -- usage errors: exit 2, one message naming the flag, nothing sent --------------------------


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["pools", "create", "p", "--share", "cpu=4,memory=lots"], "--share"),
        (["pools", "create", "p", "--strategy", "diagonal"], "--strategy"),
        (["pools", "update", "p", "--strategy", "sideways"], "--strategy"),
        (["pools", "update", "p", "--share", "cpu=1", "--whole-nodes"], "--whole-nodes"),
        (["pools", "create", "p", "--label", "nolabel"], "--label"),
        (["quota", "set", "ns", "--memory", "8Xi"], "--memory"),
        (["quota", "set", "ns", "--cpu", "-1"], "--cpu"),
        (["quota", "set", "ns", "--plan-interval", "soon"], "--plan-interval"),
        (["quota", "set", "ns", "--plan-interval", "0s"], "--plan-interval"),
        (["quota", "set", "ns", "--weight", "0"], "--weight"),
        (["quota", "set", "ns", "--backpressure", "drop"], "--backpressure"),
        (["quota", "set", "ns", "--max-replicas", "-3"], "--max-replicas"),
        (["quota", "set", "ns", "--custom", "acc"], "--custom"),
        (["reserve", "--namespace", "a", "--pool", "p", "--cpu", "1"], "--duration"),
        (["reserve", "--namespace", "a", "--pool", "p", "--cpu", "1", "--duration", "1y"],
         "--duration"),
        (["reserve", "--namespace", "a", "--pool", "p", "--memory", "1Q", "--duration", "1h"],
         "--memory"),
        (["reserve", "--namespace", "a", "--pool", "p", "--cpu", "1", "--duration", "1h",
          "--start", "yesterday"], "--start"),
        (["plan", "--problem", "p.json", "--time-limit", "fast"], "--time-limit"),
    ],
)  # fmt: skip
def test_bad_values_exit_2_naming_the_flag(
    argv: list[str], flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*NOWHERE, *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and " error: " in err
    assert flag in err


def test_reserve_needs_some_resource(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["reserve", "--namespace", "a", "--pool", "p", "--duration", "1h"]
    assert main([*NOWHERE, *argv]) == 2
    err = capsys.readouterr().err
    assert err == "error: reserve: give at least one of --cpu, --memory, --gpu or --custom\n"


def test_adopt_is_for_a_namespace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    problem = tmp_path / "p.json"
    problem.write_text(json.dumps(TINY_PROBLEM))
    assert main([*NOWHERE, "plan", "--problem", str(problem), "--adopt"]) == 2
    assert capsys.readouterr().err.startswith("error: --adopt is not for --problem")


def test_problem_file_must_be_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main([*NOWHERE, "plan", "--problem", str(bad)]) == 2
    assert "is not valid JSON" in capsys.readouterr().err
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    assert main([*NOWHERE, "plan", "--problem", str(listed)]) == 2
    assert "must hold a JSON object" in capsys.readouterr().err
    assert main([*NOWHERE, "plan", "--problem", str(tmp_path / "none.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_server_unreachable_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*NOWHERE, "cluster"]) == EXIT_UNREACHABLE
    err = capsys.readouterr().err
    assert err.startswith("error: UNAVAILABLE: cannot reach the orchestrator at 127.0.0.1:1")
    assert err.count("\n") == 1


# -- arguments -> requests --------------------------------------------------------------------


def test_pool_create_arguments() -> None:
    args = parse(
        ["pools", "create", "gpu-pool", "--label", "zone=a", "--label", "tier=gold",
         "--custom-resource", "acc", "--node", "n1", "--node", "n2",
         "--share", "cpu=4,memory=8Gi,gpu=1,acc=2", "--strategy", "spread", "--json"]
    )  # fmt: skip
    assert args.handler.resolve() is capacity.pools_create
    assert args.output == "json"
    spec = capacity.pool_spec_from_args(args)
    assert spec == PoolSpec(
        name="gpu-pool",
        selector=NodeSelector(
            labels={"zone": "a", "tier": "gold"}, custom_resources=("acc",), node_ids=("n1", "n2")
        ),
        share=ResourceAmounts(cpu=4, memory=8 * GI, gpu=1, custom={"acc": 2}),
        strategy=PlacementStrategy.SPREAD,
    )
    whole = capacity.pool_spec_from_args(parse(["pools", "create", "all"]))
    assert whole == PoolSpec(name="all")


def test_pool_update_replaces_only_what_is_given() -> None:
    current = PoolSpec(
        name="p",
        selector=NodeSelector(labels={"zone": "a"}, node_ids=("n1",)),
        share=ResourceAmounts(cpu=2),
        strategy=PlacementStrategy.SPREAD,
    )
    same = capacity.pool_spec_from_args(parse(["pools", "update", "p"]), current)
    assert same == current
    changed = capacity.pool_spec_from_args(
        parse(["pools", "update", "p", "--label", "zone=b", "--share", "cpu=3"]), current
    )
    assert changed.selector == NodeSelector(labels={"zone": "b"}, node_ids=("n1",))
    assert changed.share == ResourceAmounts(cpu=3)
    assert changed.strategy is PlacementStrategy.SPREAD
    whole = capacity.pool_spec_from_args(
        parse(["pools", "update", "p", "--whole-nodes", "--strategy", "pack"]), current
    )
    assert whole.share is None and whole.strategy is PlacementStrategy.PACK


def test_quota_set_merges_into_the_current_policy() -> None:
    current = NamespacePolicy(
        name="team",
        weight=3,
        priority=1,
        quota=Quota(
            max_resources=ResourceAmounts(cpu=4, custom={"acc": 1}),
            max_replicas=5,
            max_concurrent_executions=2,
        ),
        batch_scheduler="cpsat",
    )
    args = parse(
        ["quota", "set", "team", "--memory", "8Gi", "--custom", "acc=0", "--custom", "fpga=2",
         "--max-executions", "0", "--backpressure", "reject", "--plan-interval", "1m",
         "--placement-policy", "fgd", "--batch-scheduler", "none"]
    )  # fmt: skip
    policy = capacity.quota_from_args(args, current)
    assert policy.quota == Quota(
        max_resources=ResourceAmounts(cpu=4, memory=8 * GI, custom={"fpga": 2}),
        max_replicas=5,
        max_concurrent_executions=None,
    )
    assert (policy.weight, policy.priority) == (3, 1)
    assert policy.backpressure is Backpressure.REJECT
    assert (policy.placement_policy, policy.batch_scheduler) == ("fgd", "")
    assert policy.plan_interval_s == 60
    cleared = capacity.quota_from_args(
        parse(["quota", "set", "team", "--cpu", "0", "--custom", "acc=0"]), current
    )
    assert cleared.quota.max_resources is None
    untouched = capacity.quota_from_args(parse(["quota", "set", "team"]), current)
    assert untouched == current


def test_reserve_and_plan_arguments() -> None:
    args = parse(
        ["reserve", "--namespace", "a", "--pool", "p", "--cpu", "2", "--memory", "512Mi",
         "--start", "+10m", "--duration", "1h", "--request-id", "r-1"]
    )  # fmt: skip
    assert (args.namespace, args.pool, args.duration, args.request_id) == ("a", "p", 3600, "r-1")
    assert args.start.resolve(0.0) == 600
    assert capacity._given_amounts(args, None) == ResourceAmounts(cpu=2, memory=512 << 20)
    plan = parse(["plan", "--namespace", "a", "--time-limit", "10s", "--adopt"])
    assert (plan.namespace, plan.time_limit, plan.adopt, plan.problem) == ("a", 10, True, None)
    assert plan.handler.resolve() is capacity.plan


def test_every_command_takes_the_global_address() -> None:
    for argv in (
        ["pools", "list"],
        ["pools", "get", "p"],
        ["cluster"],
        ["quota", "get", "ns"],
        ["reservations", "get", "r"],
        ["schedulers"],
    ):
        assert parse([*argv, "--address", "h:1"]).address == "h:1"
        assert parse(["--address", "h:2", *argv]).address == "h:2"
    assert parse(["cluster", "--json"]).output == "json"


# -- proto <-> views --------------------------------------------------------------------------


NODE = NodeInfo(
    node_id="a" * 40,
    address="10.0.0.1",
    alive=True,
    labels={"zone": "a"},
    capacity=ResourceAmounts(cpu=8, memory=32 * GI, gpu=2),
    free=ResourceAmounts(cpu=6, memory=30 * GI, gpu=2),
)
DEAD = NodeInfo(
    node_id="b" * 40,
    address="10.0.0.2",
    alive=False,
    capacity=ResourceAmounts(cpu=4),
    free=ResourceAmounts(cpu=4),
)
SPEC = PoolSpec(
    name="gpu",
    selector=NodeSelector(labels={"zone": "a"}),
    share=ResourceAmounts(cpu=4, gpu=1),
    strategy=PlacementStrategy.SPREAD,
)


def test_pool_round_trip() -> None:
    pool_view = PoolView(PoolRecord(SPEC, 100.0, 200.0), [NODE], ResourceAmounts(cpu=4, gpu=1))
    info = resource_codec.pool_from_proto(resource_codec.pool_to_proto(pool_view.info()))
    assert info.record == PoolRecord(SPEC, 100.0, 200.0)
    assert info.node_ids == (NODE.node_id,)
    assert info.capacity == ResourceAmounts(cpu=4, gpu=1)
    assert info.name == "gpu" and info.spec is info.record.spec


def test_cluster_state_round_trip() -> None:
    pool_view = PoolView(PoolRecord(SPEC, 1.0, 1.0), [NODE], ResourceAmounts(cpu=4, gpu=1))
    cluster = ClusterView([NODE, DEAD], [pool_view], {"cpu": 0.4, "gpu": 0.0}, 1234.5)
    state = resource_codec.cluster_from_proto(resource_codec.cluster_to_proto(cluster.usage([])))
    assert [n.info for n in state.nodes] == [NODE, DEAD]
    assert state.nodes[0].allocated == ResourceAmounts(cpu=2, memory=2 * GI)
    assert state.nodes[0].pools == ("gpu",) and state.nodes[1].pools == ()
    assert [p.pool for p in state.pools] == ["gpu"]
    assert state.fragmentation == pytest.approx({"cpu": 0.4, "gpu": 0.0})
    assert state.observe_time == 1234.5


def test_reservation_round_trip() -> None:
    reservation = Reservation(
        reservation_id="r1",
        namespace="team",
        pool="gpu",
        resources=ResourceAmounts(cpu=1, memory=GI),
        start_time=1000.0,
        duration_s=5400.0,
        state=ReservationState.CANCELLED,
        create_time=900.0,
        strategy=PlacementStrategy.STRICT_PACK,
        message="cancelled by request",
    )
    info = resource_codec.reservation_from_proto(resource_codec.reservation_to_proto(reservation))
    assert info == reservation
    assert info.placement_group_id == ""


def test_plan_round_trip() -> None:
    problem = problem_from_dict(TINY_PROBLEM)
    schedule = solve(problem, "spt", time_limit_s=5, seed=0)
    result = scheduling_codec.plan_from_proto(
        scheduling_codec.plan_to_proto(plan_result(problem, schedule))
    )
    assert result.status.value == schedule.status.value
    assert result.objective == schedule.objective_value
    assert [(o.operation, o.machine, o.start, o.end) for o in result.operations] == [
        (s.operation, s.machine, s.start, s.end) for s in schedule.operations
    ]
    assert [(o.job, o.position) for o in result.operations] == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_quota_round_trip() -> None:
    policy = NamespacePolicy(
        name="team",
        weight=2,
        priority=3,
        backpressure=Backpressure.REJECT,
        quota=Quota(ResourceAmounts(cpu=2), max_replicas=4, max_concurrent_executions=1),
        placement_policy="fgd",
        batch_scheduler="cpsat",
        plan_interval_s=12.5,
    )
    assert resource_codec.quota_from_proto(resource_codec.quota_to_proto(policy)) == policy


# -- rendering --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [(8 * GI, "8Gi"), (3 * GI // 2, "1.5Gi"), (512 << 20, "512Mi"), (100, "100"), (0, "0")],
)
def test_size_text(value: int, text: str) -> None:
    assert view.size(value) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(5400, "1h30m"), (300, "5m"), (30, "30s"), (0.5, "0.5s"), (3605, "1h5s"), (0, "0s")],
)
def test_seconds_text(seconds: float, text: str) -> None:
    assert view.seconds_text(seconds) == text


def test_amounts_text_uses_the_share_syntax() -> None:
    amounts = ResourceAmounts(cpu=4, memory=8 * GI, gpu=1, custom={"acc": 2})
    assert view.amounts_text(amounts) == "cpu=4 memory=8Gi gpu=1 acc=2"
    assert capacity_values.parse_amounts(view.amounts_text(amounts).replace(" ", ",")) == amounts
    assert view.amounts_text(None, unlimited="unlimited") == "unlimited"
    assert view.amounts_text(ResourceAmounts()) == "-"


def _state() -> ClusterUsage:
    pool_view = PoolView(PoolRecord(SPEC, 1.0, 1.0), [NODE], ResourceAmounts(cpu=4, gpu=1))
    cluster = ClusterView([NODE, DEAD], [pool_view], {"cpu": 0.4, "gpu": 0.0}, 1234.5)
    state = resource_codec.cluster_from_proto(resource_codec.cluster_to_proto(cluster.usage([])))
    usage = NamespaceUsage(
        namespace="team",
        allocated=ResourceAmounts(cpu=1),
        running_executions=1,
        queued_executions=3,
        running_tasks=2,
        queued_tasks=4,
        oldest_wait_s=90,
        weighted_dominant_share=0.125,
    )
    return ClusterUsage(state.nodes, state.pools, [usage], state.fragmentation, state.observe_time)


def test_cluster_tables() -> None:
    state = _state()
    console = Console(record=True, width=220, highlight=False, color_system=None)
    view.cluster_view(console, state)
    text = console.export_text()
    assert "1/2 nodes alive" in text
    assert "a" * 12 in text and "a" * 13 not in text  # short node ids
    assert "cpu=8 memory=32Gi gpu=2" in text and "cpu=2 memory=2Gi" in text
    assert "zone=a" in text
    assert "cpu 0/4 gpu 0/1" in text  # pool usage
    assert "team" in text and "1/3" in text and "1m30s" in text and "0.125" in text
    assert "40.0%" in text  # cpu fragmentation


def test_cluster_fragmentation_counts_live_nodes_only() -> None:
    text = rendered(view.fragmentation_table(_state()))
    cpu_row = next(line for line in text.splitlines() if " cpu " in line)
    cells = [cell.strip() for cell in cpu_row.strip("│ ").split("│")]
    assert cells == ["cpu", "40.0%", "6", "6"]  # the dead node's 4 free CPUs do not count


def test_cluster_json_is_plain_data() -> None:
    data = view.cluster_dict(_state())
    json.dumps(data)
    assert data["nodes"][0]["capacity"] == {"cpu": 8, "memory": 32 * GI, "gpu": 2, "custom": {}}
    assert data["nodes"][0]["pools"] == ["gpu"]
    assert data["namespaces"][0]["queued_tasks"] == 4
    assert data["fragmentation"]["cpu"] == pytest.approx(0.4)


def test_pool_views() -> None:
    pool_view = PoolView(PoolRecord(SPEC, 1.0, 2.0), [NODE], ResourceAmounts(cpu=4, gpu=1))
    info = resource_codec.pool_from_proto(resource_codec.pool_to_proto(pool_view.info()))
    table = rendered(view.pools_table([info]))
    assert "gpu" in table and "zone=a" in table and "SPREAD" in table
    assert "cpu=4 gpu=1 (share)" in table
    console = Console(record=True, width=200, highlight=False, color_system=None)
    view.pool_detail(console, info)
    detail = console.export_text()
    assert "share cpu=4 gpu=1" in detail and NODE.node_id[:12] in detail
    data = view.pool_dict(info)
    json.dumps(data)
    assert data["whole_nodes"] is False and data["strategy"] == "SPREAD"
    assert data["share"] == {"cpu": 4, "memory": 0, "gpu": 1, "custom": {}}


def test_quota_and_reservation_views() -> None:
    policy = NamespacePolicy(
        name="team",
        weight=2,
        quota=Quota(ResourceAmounts(memory=8 * GI), max_concurrent_executions=3),
        plan_interval_s=5,
    )
    console = Console(record=True, width=200, highlight=False, color_system=None)
    view.quota_detail(console, policy)
    text = console.export_text()
    assert "memory=8Gi" in text and "unlimited" in text and "queue" in text and "5s" in text
    assert view.quota_dict(policy)["max_concurrent_executions"] == 3

    reservation = Reservation(
        reservation_id="r1",
        namespace="team",
        pool="gpu",
        resources=ResourceAmounts(cpu=1),
        start_time=1000.0,
        duration_s=3600.0,
        state=ReservationState.PENDING,
        create_time=900.0,
    )
    info = dataclasses.replace(reservation, placement_group_id="pg-1")
    console = Console(record=True, width=200, highlight=False, color_system=None)
    view.reservation_detail(console, info)
    text = console.export_text()
    assert "r1" in text and "PENDING" in text and "(1h)" in text and "pg-1" in text
    data = view.reservation_dict(info)
    assert (data["end_time"], data["state"], data["placement_group_id"]) == (
        4600.0,
        "PENDING",
        "pg-1",
    )


def test_plan_views() -> None:
    problem = problem_from_dict(TINY_PROBLEM)
    schedule = solve(problem, "cpsat", time_limit_s=5, seed=0, workers=1)
    result = scheduling_codec.plan_from_proto(
        scheduling_codec.plan_to_proto(plan_result(problem, schedule))
    )
    summary = view.plan_summary(result)
    assert summary.startswith("plan by cpsat: OPTIMAL")
    assert "gap 0.0%" in summary and "4 operations" in summary
    table = rendered(view.plan_table(result))
    assert "OPERATION" in table and "MACHINE" in table
    assert "job 1 op 0 (#2)" in table
    assert json.loads(json.dumps(view.plan_dict(result)))["operations"][0]["job"] == 0

    live = PlanResult(
        scheduler="cpsat",
        status=SolveStatus.FEASIBLE,
        objective=10,
        bound=None,
        operations=[
            PlannedOperation(0, 0, 0, 1, 0, 4, "e" * 32, "build", "n" * 40),
            PlannedOperation(1, 0, 1, 0, 4, 10, "e" * 32, "test", "m" * 40),
        ],
        solve_time_s=0.25,
        info={},
    )
    table = rendered(view.plan_table(live))
    assert "TASK" in table and "NODE" in table
    assert "eeeeeeee/build" in table and "n" * 12 in table and "n" * 13 not in table
    assert view.plan_summary(live) == (
        "plan by cpsat: FEASIBLE, objective 10, 2 operations in 0.25s"
    )


def test_schedulers_table() -> None:
    table = rendered(
        view.schedulers_table(
            [SchedulerInfo("cpsat", "CP-SAT", "batch"), SchedulerInfo("x", "", "")]
        )
    )
    assert "cpsat" in table and "batch" in table and "CP-SAT" in table


def test_labels_text_skips_the_node_id_label() -> None:
    labels = {"ray.io/node-id": "a" * 40, "zone": "a", "tier": "gold"}
    assert view.labels_text(labels) == "tier=gold, zone=a"
    assert view.labels_text({"ray.io/node-id": "x"}) == "-"


def test_agents_deploy_takes_a_pool_and_replica_resources() -> None:
    args = build_parser().parse_args(
        [
            "agents", "deploy", "--name", "gpu-worker", "--version", "v1",
            "--import-path", "m:C", "--pool", "gpu", "--memory", "2Gi",
            "--num-gpus", "0.5", "--resource", "accelerator_x=1",
        ]
    )  # fmt: skip
    assert (args.pool, args.memory, args.num_gpus) == ("gpu", 2 * 2**30, 0.5)
    assert args.resource == [("accelerator_x", 1.0)]
