"""Every number, duration, port and address the CLI takes is range-checked when it is parsed:
one line naming the flag, the value and the allowed range, exit 2, nothing sent."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from controlplane.addresses import check_ray_address, check_target, split_host_port
from controlplane.cli import arg_types
from controlplane.cli.main import EXIT_USAGE, main
from controlplane.cli.parser import build_parser
from controlplane.config import ConfigError, GrpcConfig, RayConfig, load_config_file
from controlplane.engine.agents.registry import MAX_REPLICAS
from controlplane.engine.scaling.loop import MAX_STATUS_DECISIONS

NOWHERE = ["--address", "127.0.0.1:1"]  # nothing is listening: a call would exit 3, not 2
DEEP_JSON = "[" * 40 + "]" * 40  # deeper than any server may allow (MAX_WIRE_DEPTH)
TOO_LONG = "9" * 20 + "h"  # beyond protobuf's Duration

# -- addresses ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("localhost:50051", ("localhost", 50051)),
        ("127.0.0.1:1", ("127.0.0.1", 1)),
        ("[::1]:50051", ("[::1]", 50051)),
        ("cp.example.com.:6000", ("cp.example.com.", 6000)),
        ("orchestrator_1:80", ("orchestrator_1", 80)),
    ],
)
def test_host_port_accepted(text: str, expected: tuple[str, int]) -> None:
    assert split_host_port(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("localhost", "expected HOST:PORT"),
        ("h:0", "port must be between 1 and 65535, got 0"),
        ("h:65536", "port must be between 1 and 65535, got 65536"),
        ("h:-1", "is not a number"),
        ("h:http", "is not a number"),
        (":50051", "the host is empty"),
        ("bad host:1", "'bad host' is not a host name"),
        ("a..b:1", "'a..b' is not a host name"),
        ("-a:1", "'-a' is not a host name"),
        ("999.1.1.1:1", "'999.1.1.1' is not an IPv4 address"),
        ("::1:50051", "in brackets: [::1]"),
        ("[::zz]:1", "'[::zz]' is not an IPv6 address"),
        ("x" * 254 + ":1", "is not a host name"),
    ],
)
def test_host_port_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        split_host_port(text)


def test_grpc_targets_with_a_scheme_pass_as_they_are() -> None:
    assert check_target("unix:/run/orchestrator.sock") == "unix:/run/orchestrator.sock"
    assert check_target("dns:///cp.example:443") == "dns:///cp.example:443"


@pytest.mark.parametrize("text", ["auto", "local", "10.0.0.5:6379", "ray://head:10001", "ray://h"])
def test_ray_addresses_accepted(text: str) -> None:
    assert check_ray_address(text) == text


@pytest.mark.parametrize("text", ["head", "head:99999", "ray://bad host", "ray://[::zz]:1"])
def test_ray_addresses_refused(text: str) -> None:
    with pytest.raises(ValueError):
        check_ray_address(text)


# -- value types --------------------------------------------------------------------------------


def test_integer_ranges_name_the_range() -> None:
    parse = arg_types.integer_between(0, 10, "0: none")
    assert parse(" 7 ") == 7
    with pytest.raises(argparse.ArgumentTypeError, match=r"between 0 and 10 \(0: none\), got '11'"):
        parse("11")
    with pytest.raises(argparse.ArgumentTypeError, match=r"expected a whole number, got '1\.5'"):
        parse("1.5")
    # A bound that is only the wire's limit is named only when it is crossed.
    with pytest.raises(argparse.ArgumentTypeError, match="must be at least 1, got '0'"):
        arg_types.count_arg("0")
    with pytest.raises(argparse.ArgumentTypeError, match="must be at most 2147483647"):
        arg_types.count_arg(str(2**31))


@pytest.mark.parametrize(
    "parse",
    [
        arg_types.non_negative_number,
        arg_types.positive_number,
        arg_types.fraction_arg,
        arg_types.fraction_or_zero_arg,
        arg_types.utilization_arg,
        arg_types.duration_arg,
        arg_types.positive_duration,
        arg_types.timeout_arg,
    ],
)
@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "Infinity", "1e999", "9" * 400])
def test_no_number_type_takes_nan_or_infinity(parse: object, text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse(text)  # type: ignore[operator]


def test_durations_and_timeouts_have_an_end() -> None:
    assert arg_types.duration_arg("0") == 0
    assert arg_types.timeout_arg("2m") == 120
    with pytest.raises(argparse.ArgumentTypeError, match="at most 315576000000s"):
        arg_types.duration_arg(TOO_LONG)
    with pytest.raises(argparse.ArgumentTypeError, match="at most 86400s"):
        arg_types.timeout_arg("25h")


def test_limits_shared_with_the_server_agree() -> None:
    assert arg_types.replicas_arg(str(MAX_REPLICAS)) == MAX_REPLICAS
    assert arg_types.MAX_STATUS_DECISIONS == MAX_STATUS_DECISIONS


# -- every command, through main() -------------------------------------------------------------

SIMULATE = ["scaling", "simulate", "--trace", "t.csv", "--out", "o"]
PREDICT = ["forecast", "predict", "--trace", "t.csv", "--out", "o.json"]
DEPLOY = ["agents", "deploy", "--name", "a", "--version", "1", "--import-path", "m:C"]
BENCH = ["bench", "scheduling", "--instances", "x", "--schedulers", "spt"]
RESERVE = ["reserve", "--namespace", "a", "--pool", "p", "--cpu", "1"]
POLICY = ["scaling", "policy", "set", "work"]


@pytest.mark.parametrize(
    ("argv", "flag", "expected"),
    [
        (["serve", "--port", "70000"], "--port", "between 0 and 65535 (0: any free port)"),
        (["serve", "--port", "-1"], "--port", "between 0 and 65535"),
        (["demo", "--port", "65536"], "--port", "between 0 and 65535"),
        (["serve", "--host", "bad host"], "--host", "is not a host name"),
        (["serve", "--host", "::1"], "--host", "in brackets: [::1]"),
        (["serve", "--ray-address", "head"], "--ray-address", "expected HOST:PORT"),
        (["serve", "--ray-num-cpus", "-2"], "--ray-num-cpus", "at least 0"),
        (["--address", "h:0", "agents", "list"], "--address", "between 1 and 65535"),
        (["agents", "list", "--address", "nohost"], "--address", "expected HOST:PORT"),
        ([*NOWHERE, "--timeout", "0", "agents", "list"], "--timeout", "longer than zero"),
        ([*NOWHERE, "--timeout", "nan", "agents", "list"], "--timeout", "invalid duration"),
        ([*NOWHERE, "agents", "list", "--timeout", "2d"], "--timeout", "invalid duration"),
        ([*NOWHERE, "--timeout", "100000", "agents", "list"], "--timeout", "at most 86400s"),
        ([*NOWHERE, *DEPLOY, "--replicas", "1001"], "--replicas", "between 0 and 1000"),
        ([*NOWHERE, *DEPLOY, "--num-cpus", "nan"], "--num-cpus", "finite number >= 0"),
        ([*NOWHERE, *DEPLOY, "--num-gpus", "-1"], "--num-gpus", "finite number >= 0"),
        ([*NOWHERE, *DEPLOY, "--max-concurrency", "0"], "--max-concurrency", "at least 1"),
        ([*NOWHERE, *DEPLOY, "--memory", "9" * 30], "--memory", "at most 9223372036854775807"),
        ([*NOWHERE, *DEPLOY, "--memory", "9" * 400 + "Gi"], "--memory", "at most"),
        ([*NOWHERE, *DEPLOY, "--config", "x=NaN"], "--config", "nan is not a JSON number"),
        ([*NOWHERE, *DEPLOY, "--config", f"x={DEEP_JSON}"], "--config", "nested deeper than"),
        ([*NOWHERE, *DEPLOY, "--runtime-env", '{"a": -Infinity}'], "--runtime-env",
         "a -inf is not a JSON number"),
        ([*NOWHERE, "agents", "scale", "a", "-1"], "replicas", "between 0 and 1000"),
        ([*NOWHERE, "workflows", "get", "w", "--revision", str(2**31)], "--revision", "at most"),
        ([*NOWHERE, "executions", "watch", "e", "--from-sequence", "-1"], "--from-sequence",
         "at least 0"),
        ([*NOWHERE, "run", "wf.yaml", "-i", "x=1e400"], "--input", "inf is not a JSON number"),
        ([*NOWHERE, "run", "wf.yaml", "-i", "x=-" + "1" * 400], "--input",
         "-inf is not a JSON number"),
        ([*NOWHERE, "run", "wf.yaml", "-i", "x=[1, NaN]"], "--input",
         "[1] nan is not a JSON number"),
        ([*NOWHERE, "run", "wf.yaml", "-i", "x=" + "[" * 100_000], "--input", "nested too deeply"),
        ([*NOWHERE, "quota", "set", "a", "--priority", str(2**31)], "--priority", "at most"),
        ([*NOWHERE, "quota", "set", "a", "--weight", "inf"], "--weight", "finite number > 0"),
        ([*NOWHERE, "quota", "set", "a", "--max-replicas", "-1"], "--max-replicas", "at least 0"),
        ([*NOWHERE, "plan", "--namespace", "a", "--seed", "-1"], "--seed", "at least 0"),
        ([*NOWHERE, "plan", "--namespace", "a", "--workers", "-1"], "--workers", "at least 0"),
        ([*NOWHERE, *RESERVE, "--duration", TOO_LONG], "--duration", "at most 315576000000s"),
        ([*NOWHERE, *RESERVE, "--duration", "1h", "--start", "+nan"], "--start",
         "invalid duration"),
        ([*NOWHERE, *POLICY, "--tolerance", "1"], "--tolerance", ">= 0 and < 1"),
        ([*NOWHERE, *POLICY, "--level", "0"], "--level", "between 0 and 1 exclusive"),
        ([*NOWHERE, *POLICY, "--max-violation", "nan"], "--max-violation", "between 0 and 1"),
        ([*NOWHERE, *POLICY, "--min-replicas", "1001"], "--min-replicas", "between 0 and 1000"),
        ([*NOWHERE, *POLICY, "--max-scale-out", "-1"], "--max-scale-out", "between 0 and 1000"),
        ([*NOWHERE, *POLICY, "--concurrency", "0"], "--concurrency", "at least 1"),
        ([*NOWHERE, *POLICY, "--target", "in_flight=inf"], "--target", "finite number > 0"),
        ([*NOWHERE, *POLICY, "--lead-time", TOO_LONG], "--lead-time", "at most"),
        ([*NOWHERE, "scaling", "status", "a", "--decisions", "101"], "--decisions",
         "between 1 and 100"),
        ([*NOWHERE, "scaling", "events", "a", "--limit", "0"], "--limit", "at least 1"),
        ([*NOWHERE, "forecast", "show", "a", "--level", "1"], "--level", ">= 0 and < 1"),
        ([*NOWHERE, "forecast", "show", "a", "--horizon", "0"], "--horizon", "longer than zero"),
        ([*NOWHERE, "load", "a", "--since", TOO_LONG], "--since", "at most"),
        ([*BENCH, "--seed", "-1"], "--seed", "at least 0"),
        ([*BENCH, "--time-limit", "inf"], "--time-limit", "finite number > 0"),
        ([*BENCH, "--workers", "0"], "--workers", "at least 1"),
        ([*BENCH, "--ray-address", "head"], "--ray-address", "expected HOST:PORT"),
        (["bench", "placement", "--nodes", "n", "--pods", "p", "--seed", str(2**31)], "--seed",
         "at most"),
        (["ml", "train-policy", "--out", "o", "--instances", "0"], "--instances", "at least 1"),
        (["ml", "train-policy", "--out", "o", "--cpsat-time-limit", "nan"], "--cpsat-time-limit",
         "finite number > 0"),
        (["ml", "train-durations", "--history", "h", "--out", "o", "--quantile", "1"],
         "--quantile", "between 0 and 1 exclusive"),
        ([*PREDICT, "--horizon", "0"], "--horizon", "at least 1"),
        ([*PREDICT, "--horizon", "3", "--level", "nan"], "--level", "between 0 and 1"),
        ([*SIMULATE, "--seed", "-1"], "--seed", "at least 0"),
        ([*SIMULATE, "--min-replicas", "-1"], "--min-replicas", "at least 0"),
        ([*SIMULATE, "--target-utilization", "1.5"], "--target-utilization", "> 0 and <= 1"),
    ],
)  # fmt: skip
def test_out_of_range_values_are_one_usage_line(
    argv: list[str], flag: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"argument {flag}" in err, err
    assert expected in err, err


def test_a_bad_address_from_the_environment_names_the_flag(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ORCHESTRATOR_ADDRESS", "cp.example")
    assert main(["agents", "list"]) == EXIT_USAGE
    assert "argument --address: expected HOST:PORT (e.g. localhost:50051), got 'cp.example'" in (
        capsys.readouterr().err
    )


def test_values_in_range_are_taken() -> None:
    parse = build_parser().parse_args
    serve = parse(["serve", "--port", "0", "--host", "[::1]", "--ray-address", "ray://head:10001"])
    assert (serve.port, serve.host, serve.ray_address) == (0, "[::1]", "ray://head:10001")
    listed = parse(["--address", "unix:/run/o.sock", "--timeout", "2m", "agents", "list"])
    assert (listed.address, listed.timeout) == ("unix:/run/o.sock", 120.0)
    deploy = parse([*DEPLOY, "--replicas", "0", "--num-cpus", "0.5", "--config", "x=2e308x"])
    assert (deploy.replicas, deploy.num_cpus, deploy.config) == (0, 0.5, [("x", "2e308x")])


# -- the server's settings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: GrpcConfig(host="bad host"), "grpc.host: 'bad host' is not a host name"),
        (lambda: GrpcConfig(max_message_bytes=2**31), "grpc.max_message_bytes: must be between"),
        (lambda: RayConfig(address="head"), "ray.address: expected HOST:PORT"),
    ],
)
def test_settings_out_of_range_are_refused(make: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[grpc]\nhost = 'bad host'\n", "grpc.host: 'bad host' is not a host name"),
        (b"[grpc]\nport = 70000\n", "grpc.port: must be between 0 and 65535, got 70000 (in "),
        (b"[loops]\nscaling_interval_s = nan\n", "loops.scaling_interval_s: must be a number"),
        (b"[ray]\naddress = 'head'\n", "ray.address: expected HOST:PORT"),
        (b"[grpc]\nport = \xff\n", "not UTF-8 text (at byte 14)"),
        (b"a = " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested too deeply"),
    ],
)
def test_a_bad_config_file_stops_serve_with_one_line(
    tmp_path: Path, content: bytes, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "orchestrator.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError):
        load_config_file(path)
    assert main(["serve", "--config", str(path), "--data-dir", str(tmp_path)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
