"""Where each server setting comes from, in rising precedence: its default, the TOML file of
`--config`, an `ORCHESTRATOR_<SECTION>_<FIELD>` environment variable (`RAY_ADDRESS` for
`ray.address` when nothing else sets it, as `ray.init()` reads it) and a flag given on the
command line. `resolve` layers them into one checked `ServerConfig` and remembers the source of
every value, for `orchestrator config show` and for errors that say where a bad value was set.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from controlplane.config import SECTIONS, ConfigError, ServerConfig, read_config_file

ENV_PREFIX = "ORCHESTRATOR_"
# The CLI's client side reads these; they share the prefix but set no server setting.
# (ORCHESTRATOR_TLS_CERT and _KEY are a client's certificate too: the server reads them as its
# own tls.cert and tls.key.)
CLIENT_VARIABLES = frozenset(
    {
        "ORCHESTRATOR_ADDRESS",
        "ORCHESTRATOR_API_KEY",
        "ORCHESTRATOR_NAMESPACE",
        "ORCHESTRATOR_OUTPUT",
        "ORCHESTRATOR_TLS_CA",
    }
)
RAY_ADDRESS_VARIABLE = "RAY_ADDRESS"
_TRUE = ("true", "1")
_FALSE = ("false", "0")


class SourceKind(enum.StrEnum):
    DEFAULT = "default"
    FILE = "file"
    ENV = "env"
    FLAG = "flag"


@dataclass(frozen=True)
class Source:
    """`origin` names the file, the variable or the flag (empty for a default)."""

    kind: SourceKind
    origin: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.origin}" if self.origin else str(self.kind)

    @property
    def where(self) -> str:
        """How an error message says where a value was set: `in FILE`, `from env VAR`."""
        return f"in {self.origin}" if self.kind is SourceKind.FILE else f"from {self}"


DEFAULT = Source(SourceKind.DEFAULT)


@dataclass(frozen=True)
class EffectiveSetting:
    path: str
    value: object
    source: Source


@dataclass(frozen=True)
class ResolvedConfig:
    config: ServerConfig
    # Every setting of every section, in the sections' order.
    settings: tuple[EffectiveSetting, ...]

    def source_of(self, path: str) -> Source:
        return next(s.source for s in self.settings if s.path == path)


# -- the settings and their types --------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    path: str
    annotation: object  # int, float | None, Path, ...

    @property
    def variable(self) -> str:
        return env_variable(self.path)


def _fields() -> Iterator[_Field]:
    for section_name, section in SECTIONS.items():
        hints = typing.get_type_hints(section)
        for f in dataclasses.fields(section):  # type: ignore[arg-type]
            yield _Field(f"{section_name}.{f.name}", hints[f.name])


def env_variable(path: str) -> str:
    """`loops.scaling_interval_s` -> `ORCHESTRATOR_LOOPS_SCALING_INTERVAL_S`."""
    return ENV_PREFIX + path.replace(".", "_").upper()


def _base_type(annotation: object) -> tuple[object, bool]:
    """(the type, whether None is allowed) of `int`, `float | None`, `Path | None`, ..."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(members) < len(typing.get_args(annotation))
        return (members[0] if len(members) == 1 else str), optional
    return annotation, False


def parse_text(text: str, annotation: object) -> object:
    """An environment variable's text as a value of the field's type; ValueError says why not.
    An empty text is None for an optional setting."""
    kind, optional = _base_type(annotation)
    if optional and text == "":
        return None
    if kind is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError(f"must be true or false (or 1 or 0), got {text!r}")
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"must be a whole number, got {text!r}") from None
    if kind is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"must be a number, got {text!r}") from None
    if kind is Path:
        if not text:
            raise ValueError("must be a path, got ''")
        return Path(text)
    return text


# -- the layers ---------------------------------------------------------------------------------


def env_settings(environ: Mapping[str, str]) -> dict[str, tuple[str, object]]:
    """The settings the environment sets, by path: (variable, value). A variable naming a known
    section but no setting of it is a ConfigError naming the variable."""
    by_variable = {f.variable: f for f in _fields()}
    sections = {ENV_PREFIX + name.upper() + "_": name for name in SECTIONS}
    found: dict[str, tuple[str, object]] = {}
    for variable, text in sorted(environ.items()):
        if not variable.startswith(ENV_PREFIX) or variable in CLIENT_VARIABLES:
            continue
        known = by_variable.get(variable)
        if known is None:
            section = next((s for p, s in sections.items() if variable.startswith(p)), None)
            if section is not None:
                names = ", ".join(f.name for f in dataclasses.fields(SECTIONS[section]))  # type: ignore[arg-type]
                raise ConfigError(
                    variable, f"names no setting of [{section}] (its settings: {names})"
                )
            continue
        try:
            found[known.path] = (variable, parse_text(text, known.annotation))
        except ValueError as exc:
            raise ConfigError(known.path, f"{exc} (from env {variable})") from None
    return found


def resolve(
    config_file: Path | None,
    environ: Mapping[str, str],
    flags: Mapping[str, tuple[str, object]],
) -> ResolvedConfig:
    """Every default, then the file's settings, then the environment's, then `flags` (by path:
    (the flag, its value)); raises ConfigError naming the setting and where its value came
    from."""
    chosen: dict[str, tuple[object, Source]] = {}
    if config_file is not None:
        file_source = Source(SourceKind.FILE, str(config_file))
        for path, value in read_config_file(config_file).items():
            chosen[path] = (value, file_source)
    for path, (variable, value) in env_settings(environ).items():
        chosen[path] = (value, Source(SourceKind.ENV, variable))
    ray_address = environ.get(RAY_ADDRESS_VARIABLE, "")
    if "ray.address" not in chosen and "ray.address" not in flags and ray_address:
        chosen["ray.address"] = (ray_address, Source(SourceKind.ENV, RAY_ADDRESS_VARIABLE))
    for path, (flag, value) in flags.items():
        chosen[path] = (value, Source(SourceKind.FLAG, flag))
    try:
        config = ServerConfig().override({path: value for path, (value, _) in chosen.items()})
    except ConfigError as exc:
        if exc.path in chosen:
            raise ConfigError(exc.path, f"{exc.problem} ({chosen[exc.path][1].where})") from None
        raise
    settings = tuple(
        EffectiveSetting(
            f.path,
            getattr(getattr(config, f.path.split(".")[0]), f.path.split(".")[1]),
            chosen[f.path][1] if f.path in chosen else DEFAULT,
        )
        for f in _fields()
    )
    return ResolvedConfig(config, settings)
