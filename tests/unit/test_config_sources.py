"""Where server settings come from: ORCHESTRATOR_<SECTION>_<FIELD> variables parsed by the
field's type, the precedence flag > env > file > default with the source of every value,
RAY_ADDRESS, `config show`, and the checks on the bind address and authentication."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from controlplane.cli.main import main
from controlplane.cli.parser import build_parser
from controlplane.cli.server.serve import check_exposure
from controlplane.cli.server.settings import resolve_from_args
from controlplane.config import ConfigError, ServerConfig
from controlplane.config_sources import SourceKind, env_settings, env_variable, resolve


def resolved(argv: list[str], environ: dict[str, str]):  # type: ignore[no-untyped-def]
    return resolve_from_args(build_parser().parse_args(["serve", *argv]), environ)


def test_every_setting_has_a_variable_parsed_by_its_type() -> None:
    environ = {
        "ORCHESTRATOR_LOOPS_SCALING_INTERVAL_S": "5",  # float
        "ORCHESTRATOR_GRPC_PORT": "6000",  # int
        "ORCHESTRATOR_QUEUEING_PREEMPTION": "0",  # bool
        "ORCHESTRATOR_AUTH_ENABLED": "TRUE",
        "ORCHESTRATOR_STORE_DATA_DIR": "/srv/orchestrator",  # path
        "ORCHESTRATOR_TLS_CERT": "/etc/cert.pem",  # optional path
        "ORCHESTRATOR_TLS_KEY": "/etc/key.pem",
        "ORCHESTRATOR_RAY_NUM_CPUS": "",  # optional int: empty is None
        "ORCHESTRATOR_RAY_INCLUDE_DASHBOARD": "false",  # optional bool
        "ORCHESTRATOR_FORECASTING_MODEL": "ets",  # str
    }
    config = resolve(None, environ, {}).config
    assert config.loops.scaling_interval_s == 5.0
    assert config.grpc.port == 6000
    assert config.queueing.preemption is False
    assert config.auth.enabled is True
    assert config.store.data_dir == Path("/srv/orchestrator")
    assert (config.tls.cert, config.tls.key) == (Path("/etc/cert.pem"), Path("/etc/key.pem"))
    assert config.ray.num_cpus is None
    assert config.ray.include_dashboard is False
    assert config.forecasting.model == "ets"
    assert env_variable("loops.scaling_interval_s") == "ORCHESTRATOR_LOOPS_SCALING_INTERVAL_S"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"ORCHESTRATOR_GRPC_PORT": "many"},
            "grpc.port: must be a whole number, got 'many' (from env ORCHESTRATOR_GRPC_PORT)",
        ),
        ({"ORCHESTRATOR_GRPC_PORT": "5.5"}, "grpc.port: must be a whole number"),
        (
            {"ORCHESTRATOR_GRPC_PORT": "70000"},
            "grpc.port: must be between 0 and 65535, got 70000 (from env ORCHESTRATOR_GRPC_PORT)",
        ),
        (
            {"ORCHESTRATOR_AUTH_ENABLED": "yes"},
            "auth.enabled: must be true or false (or 1 or 0), got 'yes' "
            "(from env ORCHESTRATOR_AUTH_ENABLED)",
        ),
        (
            {"ORCHESTRATOR_LOOPS_SCALING_INTERVAL_S": ""},
            "loops.scaling_interval_s: must be a number, got ''",
        ),
        (
            {"ORCHESTRATOR_LOOPS_LOAD_INTERVAL_S": "nan"},
            "loops.load_interval_s: must be a number, got nan "
            "(from env ORCHESTRATOR_LOOPS_LOAD_INTERVAL_S)",
        ),
        (
            {"ORCHESTRATOR_GRPC_PROT": "1"},
            "ORCHESTRATOR_GRPC_PROT: names no setting of [grpc] (its settings: host, port",
        ),
        ({"ORCHESTRATOR_TLS_KEY": "/k.pem"}, "tls.cert: tls.cert and tls.key go together"),
        ({"ORCHESTRATOR_STORE_DATA_DIR": ""}, "store.data_dir: must be a path, got ''"),
        ({"ORCHESTRATOR_FORECASTING_MODEL": ""}, "forecasting.model: must be a non-empty"),
    ],
)
def test_a_bad_variable_names_itself_and_the_setting(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        resolve(None, environ, {})


def test_client_and_foreign_variables_are_not_settings() -> None:
    environ = {
        "ORCHESTRATOR_ADDRESS": "cp:50051",
        "ORCHESTRATOR_API_KEY": "secret",
        "ORCHESTRATOR_NAMESPACE": "team-a",
        "ORCHESTRATOR_OUTPUT": "json",
        "ORCHESTRATOR_TLS_CA": "/ca.pem",
        "ORCHESTRATOR_SOMETHING_ELSE": "x",  # no such section: not ours to judge
        "PATH": "/bin",
    }
    assert env_settings(environ) == {}
    assert resolve(None, environ, {}).config == ServerConfig()


def test_flag_beats_env_beats_file_beats_default(tmp_path: Path) -> None:
    path = tmp_path / "orchestrator.toml"
    path.write_text(
        "[grpc]\nport = 6000\nshutdown_grace_s = 3\n"
        "[loops]\nscaling_interval_s = 7\nload_interval_s = 4\n"
    )
    environ = {
        "ORCHESTRATOR_GRPC_PORT": "6001",
        "ORCHESTRATOR_LOOPS_SCALING_INTERVAL_S": "8",
    }
    result = resolved(["--config", str(path), "--port", "6002"], environ)
    config = result.config
    assert config.grpc.port == 6002
    assert config.loops.scaling_interval_s == 8.0
    assert config.loops.load_interval_s == 4
    assert config.grpc.shutdown_grace_s == 3
    assert config.loops.capacity_interval_s == 2.0
    assert str(result.source_of("grpc.port")) == "flag --port"
    assert str(result.source_of("loops.scaling_interval_s")) == (
        "env ORCHESTRATOR_LOOPS_SCALING_INTERVAL_S"
    )
    assert str(result.source_of("loops.load_interval_s")) == f"file {path}"
    assert result.source_of("loops.capacity_interval_s").kind is SourceKind.DEFAULT
    # A flag not given sets nothing, with or without a file.
    assert resolved([], environ).config.grpc.port == 6001
    assert resolved([], {}).config == ServerConfig()


def test_switches_and_tls_flags_set_their_settings(tmp_path: Path) -> None:
    cert, key, ca = (tmp_path / n for n in ("c.pem", "k.pem", "ca.pem"))
    argv = ["--tls-cert", str(cert), "--tls-key", str(key), "--tls-client-ca", str(ca)]
    result = resolved([*argv, "--auth", "--no-dashboard"], {})
    assert (result.config.tls.cert, result.config.tls.key) == (cert, key)
    assert result.config.tls.client_ca == ca
    assert result.config.auth.enabled is True
    assert result.config.ray.include_dashboard is False
    assert str(result.source_of("auth.enabled")) == "flag --auth"
    result = resolved(["--no-auth", "--insecure"], {"ORCHESTRATOR_AUTH_ENABLED": "true"})
    assert (result.config.auth.enabled, result.config.auth.insecure) == (False, True)


def test_ray_address_joins_the_cluster_ray_job_submit_runs_in(tmp_path: Path) -> None:
    result = resolved([], {"RAY_ADDRESS": "auto"})
    assert result.config.ray.address == "auto"
    assert str(result.source_of("ray.address")) == "env RAY_ADDRESS"
    ours = {"RAY_ADDRESS": "auto", "ORCHESTRATOR_RAY_ADDRESS": "10.0.0.5:6379"}
    assert resolved([], ours).config.ray.address == "10.0.0.5:6379"
    # An empty ORCHESTRATOR_RAY_ADDRESS says "a local Ray" even when RAY_ADDRESS is set.
    local = {"RAY_ADDRESS": "auto", "ORCHESTRATOR_RAY_ADDRESS": ""}
    assert resolved([], local).config.ray.address is None
    assert resolved(["--ray-address", "h:1"], {"RAY_ADDRESS": "auto"}).config.ray.address == "h:1"
    path = tmp_path / "o.toml"
    path.write_text('[ray]\naddress = "head:6379"\n')
    assert resolved(["--config", str(path)], {"RAY_ADDRESS": "auto"}).config.ray.address == (
        "head:6379"
    )
    with pytest.raises(ConfigError, match=r"ray.address: .*\(from env RAY_ADDRESS\)"):
        resolved([], {"RAY_ADDRESS": "head:port"})


def test_default_bind_address_is_loopback() -> None:
    config = ServerConfig()
    assert config.grpc.host == "127.0.0.1"
    check_exposure(config)  # loopback without authentication: fine, no warning


def test_another_address_without_authentication_needs_insecure(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    exposed = ServerConfig().override({"grpc.host": "0.0.0.0", "auth.enabled": False})
    with pytest.raises(ConfigError, match=r"auth\.enabled: serving 0\.0\.0\.0 without auth"):
        check_exposure(exposed)
    argv = ["serve", "--host", "0.0.0.0", "--no-auth", "--data-dir", str(tmp_path)]
    assert main(argv) == 2
    assert "needs auth.insecure (--insecure)" in capsys.readouterr().err
    with caplog.at_level(logging.WARNING):
        check_exposure(exposed.override({"auth.insecure": True}))
    assert "anyone who can reach this port can deploy agents and run code" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        check_exposure(ServerConfig().override({"grpc.host": "0.0.0.0"}))  # auth: automatic
    assert caplog.text == ""


def test_config_show_prints_every_setting_with_its_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "orchestrator.toml"
    path.write_text("[loops]\nload_interval_s = 4\n")
    monkeypatch.setenv("ORCHESTRATOR_GRPC_PORT", "6001")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert main(["config", "show", "--config", str(path), "--host", "localhost"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split(maxsplit=2)[1:] for line in lines if line.strip()}
    assert rows["grpc.port"] == ["6001", "env ORCHESTRATOR_GRPC_PORT"]
    assert rows["grpc.host"] == ["localhost", "flag --host"]
    assert rows["loops.load_interval_s"] == ["4", f"file {path}"]
    assert rows["ray.address"] == ["-", "default"]
    assert rows["queueing.preemption"] == ["true", "default"]
    shown = [line for line in lines[1:] if line and "." in line.split()[0]]
    assert len(shown) == len(resolve(None, {}, {}).settings)
    assert lines[-1] == "authentication: off"

    assert main(["config", "show", "-o", "json", "--config", str(path)]) == 0
    document = json.loads(capsys.readouterr().out)
    settings = {s["setting"]: s for s in document["settings"]}
    assert settings["grpc.port"] == {
        "setting": "grpc.port",
        "value": 6001,
        "source": "env",
        "origin": "ORCHESTRATOR_GRPC_PORT",
    }
    assert settings["store.data_dir"]["value"] == "orchestrator-data"
    assert settings["tls.cert"]["value"] is None
    assert document["authentication_required"] is False


def test_config_show_with_a_bad_setting_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCHESTRATOR_LOOPS_NOPE", "1")
    assert main(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ORCHESTRATOR_LOOPS_NOPE: names no setting of [loops]" in err
    monkeypatch.delenv("ORCHESTRATOR_LOOPS_NOPE")
    path = tmp_path / "bad.toml"
    path.write_text("[grpc]\nprot = 1\n")
    assert main(["config", "show", "--config", str(path)]) == 2
    assert "grpc.prot: unknown setting (known: host, port" in capsys.readouterr().err
