"""Server settings: sections checked on construction (errors name the field's path),
overrides by path, the TOML file of `serve --config` and how serve's flags override it."""

from __future__ import annotations

from pathlib import Path

import pytest

from controlplane.cli.main import main
from controlplane.cli.parser import build_parser
from controlplane.cli.server.settings import config_from_args
from controlplane.config import (
    ConfigError,
    ForecastingConfig,
    GrpcConfig,
    LoopConfig,
    RayConfig,
    ServerConfig,
    StoreConfig,
    load_config_file,
)


def test_defaults_are_the_serve_defaults() -> None:
    config = ServerConfig()
    assert config.store.data_dir == Path("orchestrator-data")
    assert config.store.database_path == Path("orchestrator-data/orchestrator.db")
    assert (config.grpc.host, config.grpc.port) == ("127.0.0.1", 50051)
    assert config.ray.address is None and config.ray.namespace == "orchestrator"
    assert config.loops.scaling_interval_s == 15.0
    assert config.forecasting.model == "auto"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: LoopConfig(scaling_interval_s=-1), "loops.scaling_interval_s: must be >= 0"),
        (lambda: LoopConfig(capacity_interval_s=0), "loops.capacity_interval_s: must be > 0"),
        (lambda: GrpcConfig(port=70000), "grpc.port: must be between 0 and 65535"),
        (lambda: GrpcConfig(port="80"), "grpc.port: must be a whole number"),  # type: ignore[arg-type]
        (
            lambda: StoreConfig(sqlite_synchronous="OFF"),
            "store.sqlite_synchronous: must be one of FULL, NORMAL",
        ),
        (lambda: RayConfig(num_cpus=-2), "ray.num_cpus: must be >= 0"),
        (lambda: ForecastingConfig(step_s=0), "forecasting.step_s: must be > 0"),
        (lambda: ForecastingConfig(model=""), "forecasting.model: must be a non-empty string"),
        (lambda: LoopConfig(load_interval_s=True), "loops.load_interval_s: must be a number"),
    ],
)
def test_bad_values_fail_naming_the_field(build: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build()  # type: ignore[operator]


def test_override_by_path_keeps_the_rest() -> None:
    base = ServerConfig(grpc=GrpcConfig(host="127.0.0.1", port=0))
    changed = base.override({"loops.scaling_interval_s": 0, "store.data_dir": "/tmp/x"})
    assert changed.loops.scaling_interval_s == 0
    assert changed.loops.load_interval_s == base.loops.load_interval_s
    assert changed.store.data_dir == Path("/tmp/x")
    assert changed.grpc == base.grpc


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"loop.scaling_interval_s": 1}, "loop.scaling_interval_s: unknown section"),
        ({"loops.scaling_s": 1}, "loops.scaling_s: unknown setting"),
        ({"loops.scaling_interval_s": -5}, "loops.scaling_interval_s: must be >= 0"),
    ],
)
def test_override_rejects_unknown_and_bad_settings(
    settings: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        ServerConfig().override(settings)


def test_toml_file_mirrors_the_sections(tmp_path: Path) -> None:
    path = tmp_path / "orchestrator.toml"
    path.write_text(
        '[grpc]\nport = 6000\nhost = "127.0.0.1"\n'
        "[loops]\nscaling_interval_s = 5\n"
        '[forecasting]\nmodel = "naive"\n'
        '[store]\ndata_dir = "data"\n'
    )
    config = load_config_file(path)
    assert (config.grpc.host, config.grpc.port) == ("127.0.0.1", 6000)
    assert config.loops.scaling_interval_s == 5
    assert config.forecasting.model == "naive"
    assert config.store.data_dir == Path("data")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[loops]\nscaling_interval_s = -1\n", "loops.scaling_interval_s: must be >= 0"),
        ("[grpc]\nport = 'x'\n", "grpc.port: must be a whole number"),
        ("port = 1\n", "port: must be a table"),
        ("[grpc\n", "not valid TOML"),
    ],
)
def test_bad_file_names_the_setting(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config_file(path)


def test_serve_flags_keep_their_meaning() -> None:
    args = build_parser().parse_args(
        [
            "serve",
            "--port",
            "0",
            "--host",
            "127.0.0.1",
            "--data-dir",
            "/tmp/d",
            "--ray-address",
            "auto",
            "--ray-num-cpus",
            "3",
            "--no-dashboard",
            "--sqlite-synchronous",
            "normal",
        ]
    )
    config = config_from_args(args)
    assert (config.grpc.host, config.grpc.port) == ("127.0.0.1", 0)
    assert config.store == StoreConfig(data_dir=Path("/tmp/d"), sqlite_synchronous="NORMAL")
    assert config.ray == RayConfig(address="auto", num_cpus=3, include_dashboard=False)
    assert config_from_args(build_parser().parse_args(["serve"])) == ServerConfig()


def test_flags_given_override_the_file_and_defaults_do_not(tmp_path: Path) -> None:
    path = tmp_path / "orchestrator.toml"
    path.write_text('[grpc]\nport = 6000\nhost = "127.0.0.1"\n[store]\ndata_dir = "from-file"\n')
    args = build_parser().parse_args(["serve", "--config", str(path), "--port", "50051"])
    config = config_from_args(args)
    assert config.grpc.port == 50051  # given, although equal to the flag's default
    assert config.grpc.host == "127.0.0.1"  # --host not given: the file's value
    assert config.store.data_dir == Path("from-file")
    assert config.ray.include_dashboard is None


def test_serve_with_a_bad_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[loops]\nscaling_interval_s = -1\n")
    assert main(["serve", "--config", str(path), "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "error: loops.scaling_interval_s: must be >= 0" in err
