"""Control-plane settings in sections (Ray, store, gRPC, loops, queueing, forecasting, ...).

Each section checks its values when it is built, so a bad setting fails at start-up with the
path of the field: `loops.scaling_interval_s: must be >= 0`. The CLI (`orchestrator serve`:
flags, `ORCHESTRATOR_<SECTION>_<FIELD>` environment variables and an optional TOML file whose
tables mirror the sections, layered in `config_sources`), tests and benchmarks build a
`ServerConfig` and change single settings with `ServerConfig.override`.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from controlplane.addresses import check_ray_address, host_problem

SQLITE_SYNCHRONOUS = ("FULL", "NORMAL")
# gRPC keeps message sizes in a signed 32-bit int.
MAX_MESSAGE_LIMIT = 2**31 - 1


class ConfigError(ValueError):
    """A setting that is unknown or out of range; `path` names it (`grpc.port`)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


# -- value checks (each names the field's path in its error) ----------------------------------


def _number(path: str, value: object, minimum: float, *, above: bool = False) -> None:
    """A finite int or float >= minimum (> minimum with `above`); bool is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(path, f"must be a number, got {value!r}")
    if above and not value > minimum:
        raise ConfigError(path, f"must be > {minimum:g}, got {value!r}")
    if value < minimum:
        raise ConfigError(path, f"must be >= {minimum:g}, got {value!r}")


def _integer(path: str, value: object, minimum: int, maximum: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(path, f"must be a whole number, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise ConfigError(path, f"must be {bound}, got {value}")


def _text(path: str, value: object, *, choices: tuple[str, ...] = ()) -> None:
    if not isinstance(value, str) or not value:
        raise ConfigError(path, f"must be a non-empty string, got {value!r}")
    if choices and value not in choices:
        raise ConfigError(path, f"must be one of {', '.join(choices)}, got {value!r}")


def _flag(path: str, value: object, *, optional: bool = False) -> None:
    if not isinstance(value, bool) and not (optional and value is None):
        raise ConfigError(path, f"must be true or false, got {value!r}")


class _Section:
    """Base of every section: `NAME` is its key in ServerConfig and in the TOML file."""

    NAME: ClassVar[str]

    def _path(self, field_name: str) -> str:
        return f"{self.NAME}.{field_name}"


# -- sections ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RayConfig(_Section):
    NAME: ClassVar[str] = "ray"

    # None: start a local Ray; "auto" or "HOST:PORT" / "ray://...": join that cluster.
    address: str | None = None
    namespace: str = "orchestrator"
    # Only for a local Ray: CPUs to give it (None: all) and whether to start the dashboard
    # (None: Ray's own choice).
    num_cpus: int | None = None
    include_dashboard: bool | None = None

    def __post_init__(self) -> None:
        if self.address is not None:
            _text(self._path("address"), self.address)
            try:
                check_ray_address(self.address)
            except ValueError as exc:
                raise ConfigError(self._path("address"), str(exc)) from None
        _text(self._path("namespace"), self.namespace)
        if self.num_cpus is not None:
            _integer(self._path("num_cpus"), self.num_cpus, 0)
        _flag(self._path("include_dashboard"), self.include_dashboard, optional=True)


@dataclass(frozen=True)
class StoreConfig(_Section):
    NAME: ClassVar[str] = "store"

    data_dir: Path = Path("orchestrator-data")
    # FULL: a commit survives power loss; NORMAL: it survives a process kill only.
    sqlite_synchronous: str = "FULL"

    def __post_init__(self) -> None:
        if not isinstance(self.data_dir, Path):
            raise ConfigError(self._path("data_dir"), f"must be a path, got {self.data_dir!r}")
        _text(self._path("sqlite_synchronous"), self.sqlite_synchronous, choices=SQLITE_SYNCHRONOUS)

    @property
    def database_path(self) -> Path:
        return self.data_dir / "orchestrator.db"


@dataclass(frozen=True)
class GrpcConfig(_Section):
    NAME: ClassVar[str] = "grpc"

    # Loopback only by default: another address needs authentication or auth.insecure.
    host: str = "127.0.0.1"
    port: int = 50051  # 0: any free port
    # Largest request accepted (gRPC answers RESOURCE_EXHAUSTED beyond it).
    max_message_bytes: int = 8 << 20
    # On stop: how long in-flight calls, then running executions, may take to finish.
    shutdown_grace_s: float = 10.0

    def __post_init__(self) -> None:
        _text(self._path("host"), self.host)
        if (problem := host_problem(self.host)) is not None:
            raise ConfigError(self._path("host"), problem)
        _integer(self._path("port"), self.port, 0, 65535)
        _integer(self._path("max_message_bytes"), self.max_message_bytes, 1, MAX_MESSAGE_LIMIT)
        _number(self._path("shutdown_grace_s"), self.shutdown_grace_s, 0)


@dataclass(frozen=True)
class LoopConfig(_Section):
    """How often each control loop turns. 0 turns a loop off (all but the capacity loop, which
    dispatch depends on); tests then drive it with its `run_once`."""

    NAME: ClassVar[str] = "loops"

    # The dispatcher re-observes the cluster and due batch plans are recomputed.
    capacity_interval_s: float = 2.0
    # Reservation windows are opened and closed on the cluster.
    reservation_interval_s: float = 1.0
    # Every pool's placement group is checked; one gone missing is created again with the
    # pool's replicas moved into it.
    pool_reconcile_interval_s: float = 2.0
    # Every agent's load is sampled into the load history (0: not recorded).
    load_interval_s: float = 10.0
    # Every agent with a scaling policy is decided (and forecasts are refitted when due).
    scaling_interval_s: float = 15.0
    # Due schedules fire (cron times are whole minutes: this is how late a firing may start).
    schedule_interval_s: float = 1.0

    def __post_init__(self) -> None:
        _number(self._path("capacity_interval_s"), self.capacity_interval_s, 0, above=True)
        for name in (
            "reservation_interval_s",
            "pool_reconcile_interval_s",
            "load_interval_s",
            "scaling_interval_s",
            "schedule_interval_s",
        ):
            _number(self._path(name), getattr(self, name), 0)


@dataclass(frozen=True)
class QueueingConfig(_Section):
    NAME: ClassVar[str] = "queueing"

    # Priority points a waiting task gains per second, so none starves.
    age_rate: float = 0.05
    # Whether higher-priority namespaces below their fair share may preempt.
    preemption: bool = True

    def __post_init__(self) -> None:
        _number(self._path("age_rate"), self.age_rate, 0)
        _flag(self._path("preemption"), self.preemption)


@dataclass(frozen=True)
class ForecastingConfig(_Section):
    """The arrival-rate forecast each predictive scaling policy uses: refitted in a worker
    thread every `refit_interval_s` (and when a policy changes) on the last `history_s` of load
    history, in steps of `step_s` (at least the load interval), with `model` (auto, naive,
    ets, ...)."""

    NAME: ClassVar[str] = "forecasting"

    refit_interval_s: float = 300.0
    step_s: float = 60.0
    history_s: float = 86400.0
    model: str = "auto"

    def __post_init__(self) -> None:
        for name in ("refit_interval_s", "step_s", "history_s"):
            _number(self._path(name), getattr(self, name), 0, above=True)
        _text(self._path("model"), self.model)


def _optional_path(path: str, value: object) -> None:
    if value is not None and not isinstance(value, Path):
        raise ConfigError(path, f"must be a path, got {value!r}")


@dataclass(frozen=True)
class TlsConfig(_Section):
    """Server TLS: a certificate and its key (PEM); with `client_ca`, mutual TLS: every
    client must present a certificate that CA signed, and its subject is the caller."""

    NAME: ClassVar[str] = "tls"

    cert: Path | None = None
    key: Path | None = None
    client_ca: Path | None = None

    def __post_init__(self) -> None:
        for name in ("cert", "key", "client_ca"):
            _optional_path(self._path(name), getattr(self, name))
        if (self.cert is None) != (self.key is None):
            raise ConfigError(self._path("cert"), "tls.cert and tls.key go together")
        if self.client_ca is not None and self.cert is None:
            raise ConfigError(self._path("client_ca"), "mutual TLS needs tls.cert and tls.key")

    @property
    def enabled(self) -> bool:
        return self.cert is not None


@dataclass(frozen=True)
class AuthConfig(_Section):
    """Authentication: `enabled` None turns it on exactly when the server binds an address
    other than loopback; `insecure` allows that without it (and logs a warning)."""

    NAME: ClassVar[str] = "auth"

    enabled: bool | None = None
    insecure: bool = False
    # Server reflection (grpcurl's `list`/`describe`) for callers without credentials.
    reflection: bool = True

    def __post_init__(self) -> None:
        _flag(self._path("enabled"), self.enabled, optional=True)
        _flag(self._path("insecure"), self.insecure)
        _flag(self._path("reflection"), self.reflection)


@dataclass(frozen=True)
class RetentionConfig(_Section):
    """How long finished executions and audit events are kept (a namespace's policy may say
    otherwise); 0 keeps them for ever. The sweep deletes in small transactions."""

    NAME: ClassVar[str] = "retention"

    executions_s: float = 30 * 86400.0
    audit_s: float = 365 * 86400.0
    interval_s: float = 300.0

    def __post_init__(self) -> None:
        for name in ("executions_s", "audit_s", "interval_s"):
            _number(self._path(name), getattr(self, name), 0)


# Deepest value the wire can carry: protobuf decodes at most 100 nested messages and a JSON
# object level costs three (Value, Struct, map entry), with a few for the messages around it.
MAX_VALUE_DEPTH = 30


@dataclass(frozen=True)
class LimitsConfig(_Section):
    """Bounds on what one request or caller may ask for; each refusal names its setting."""

    NAME: ClassVar[str] = "limits"

    # A workflow definition's text, in bytes (UTF-8).
    definition_bytes: int = 1 << 20
    # Tasks of one workflow (its tasks and finally tasks).
    tasks_per_workflow: int = 10_000
    # Nesting of a value: inputs, defaults, task inputs, agent outputs, workflow outputs.
    value_depth: int = 20
    # Items one for_each may fan out to.
    for_each_items: int = 100_000
    # Events one execution may record; one that reaches it (an endless loop) fails.
    events_per_execution: int = 1_000_000
    # Streams (watches, value reads, uploads) one caller may hold open at once. Without
    # authentication a caller is a host: every local client shares one allowance.
    streams_per_caller: int = 100
    # Requests per second one caller may make on average, and in one burst (a token bucket).
    requests_per_second: float = 200.0
    burst: int = 1000
    # Callers whose rate and streams are tracked; the least recently seen are forgotten first.
    tracked_callers: int = 10_000

    def __post_init__(self) -> None:
        for name in (
            "definition_bytes",
            "tasks_per_workflow",
            "for_each_items",
            "events_per_execution",
            "streams_per_caller",
            "burst",
            "tracked_callers",
        ):
            _integer(self._path(name), getattr(self, name), 1)
        _integer(self._path("value_depth"), self.value_depth, 1, MAX_VALUE_DEPTH)
        _number(self._path("requests_per_second"), self.requests_per_second, 0, above=True)


SECTIONS: dict[str, type[_Section]] = {
    section.NAME: section
    for section in (
        RayConfig,
        StoreConfig,
        GrpcConfig,
        LoopConfig,
        QueueingConfig,
        ForecastingConfig,
        TlsConfig,
        AuthConfig,
        RetentionConfig,
        LimitsConfig,
    )
}


# -- the whole configuration ------------------------------------------------------------------


@dataclass(frozen=True)
class ServerConfig:
    store: StoreConfig = field(default_factory=StoreConfig)
    ray: RayConfig = field(default_factory=RayConfig)
    grpc: GrpcConfig = field(default_factory=GrpcConfig)
    loops: LoopConfig = field(default_factory=LoopConfig)
    queueing: QueueingConfig = field(default_factory=QueueingConfig)
    forecasting: ForecastingConfig = field(default_factory=ForecastingConfig)
    tls: TlsConfig = field(default_factory=TlsConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)

    def __post_init__(self) -> None:
        for name, section in SECTIONS.items():
            if not isinstance(getattr(self, name), section):
                raise ConfigError(name, f"must be a {section.__name__}")

    def override(self, settings: Mapping[str, object]) -> ServerConfig:
        """This configuration with each `section.field` in `settings` replaced, e.g.
        `{"loops.scaling_interval_s": 0, "grpc.port": 0}`; checked like any configuration."""
        changes: dict[str, dict[str, object]] = {}
        for path, value in settings.items():
            section_name, _, name = path.partition(".")
            section = SECTIONS.get(section_name)
            if section is None:
                raise ConfigError(path, f"unknown section (known: {', '.join(SECTIONS)})")
            fields = {f.name: f for f in dataclasses.fields(section)}  # type: ignore[arg-type]
            if name not in fields:
                raise ConfigError(path, f"unknown setting (known: {', '.join(fields)})")
            if _is_path_field(fields[name]) and isinstance(value, str):
                value = Path(value)
            changes.setdefault(section_name, {})[name] = value
        replaced = {
            section_name: dataclasses.replace(getattr(self, section_name), **fields_changed)
            for section_name, fields_changed in changes.items()
        }
        return dataclasses.replace(self, **replaced)


def _is_path_field(f: dataclasses.Field[Any]) -> bool:
    return isinstance(f.default, Path) or "Path" in str(f.type)


def flatten(tables: Mapping[str, Any]) -> dict[str, object]:
    """`{"loops": {"scaling_interval_s": 5}}` -> `{"loops.scaling_interval_s": 5}`."""
    flat: dict[str, object] = {}
    for section_name, table in tables.items():
        if not isinstance(table, Mapping):
            raise ConfigError(section_name, "must be a table of settings ([" + section_name + "])")
        for name, value in table.items():
            flat[f"{section_name}.{name}"] = value
    return flat


def read_config_file(path: Path) -> dict[str, object]:
    """The settings of a TOML file whose tables are the sections, by path (not yet checked):
    `[grpc]` `port = 50052` -> `{"grpc.port": 50052}`."""
    try:
        with path.open("rb") as handle:
            tables = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), f"not UTF-8 text (at byte {exc.start})") from None
    except RecursionError:
        raise ConfigError(str(path), "nested too deeply to be a settings file") from None
    try:
        return flatten(tables)
    except ConfigError as exc:
        raise ConfigError(exc.path, f"{exc.problem} (in {path})") from None


def load_config_file(path: Path, base: ServerConfig | None = None) -> ServerConfig:
    """`base` (default: every default) with the settings of a TOML file whose tables are the
    sections: `[grpc]` `port = 50052`, `[loops]` `scaling_interval_s = 5`, ..."""
    settings = read_config_file(path)
    try:
        return (base or ServerConfig()).override(settings)
    except ConfigError as exc:
        raise ConfigError(exc.path, f"{exc.problem} (in {path})") from None


def _is_loopback(host: str) -> bool:
    name = host.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def binds_beyond_loopback(config: ServerConfig) -> bool:
    """Whether the server listens on an address other machines may reach."""
    return not _is_loopback(config.grpc.host)


def authentication_required(config: ServerConfig) -> bool:
    """Whether calls must carry credentials: as `auth.enabled` says, else exactly when the
    server binds an address other than loopback without `auth.insecure`. Raises ConfigError
    when authentication is turned off on such an address without `auth.insecure`."""
    exposed = not _is_loopback(config.grpc.host)
    if config.auth.enabled is None:
        return exposed and not config.auth.insecure
    if not config.auth.enabled and exposed and not config.auth.insecure:
        raise ConfigError(
            "auth.enabled",
            f"serving {config.grpc.host} without authentication needs auth.insecure (--insecure)",
        )
    return config.auth.enabled
