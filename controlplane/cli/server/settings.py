"""The server configuration `orchestrator serve` (and `config show`) runs with: every default,
then the TOML file of `--config`, then `ORCHESTRATOR_<SECTION>_<FIELD>` variables (and
`RAY_ADDRESS`), then the flags given (a flag not given sets nothing)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path

from controlplane.cli.server.commands import GIVEN
from controlplane.config import ServerConfig
from controlplane.config_sources import ResolvedConfig, resolve

# serve's flags that take a value (their argparse dest) and the setting each one sets.
FLAG_SETTINGS = {
    "port": "grpc.port",
    "host": "grpc.host",
    "data_dir": "store.data_dir",
    "ray_address": "ray.address",
    "ray_num_cpus": "ray.num_cpus",
    "sqlite_synchronous": "store.sqlite_synchronous",
    "tls_cert": "tls.cert",
    "tls_key": "tls.key",
    "tls_client_ca": "tls.client_ca",
}
# serve's switches: the setting each one sets and the value it sets it to.
SWITCH_SETTINGS: dict[str, tuple[str, object]] = {
    "no_dashboard": ("ray.include_dashboard", False),
    "auth": ("auth.enabled", True),
    "no_auth": ("auth.enabled", False),
    "insecure": ("auth.insecure", True),
}


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def flag_settings(args: argparse.Namespace) -> dict[str, tuple[str, object]]:
    """The settings the flags given set, by path: (the flag, its value)."""
    given = set(getattr(args, GIVEN, ()))
    settings = {
        path: (_flag(dest), getattr(args, dest))
        for dest, path in FLAG_SETTINGS.items()
        if dest in given
    }
    for dest, (path, value) in SWITCH_SETTINGS.items():
        if dest in given:
            settings[path] = (_flag(dest), value)
    return settings


def resolve_from_args(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None
) -> ResolvedConfig:
    """Raises ConfigError (naming the setting and where its value came from)."""
    config_file = Path(args.config) if args.config else None
    return resolve(config_file, os.environ if environ is None else environ, flag_settings(args))


def config_from_args(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None
) -> ServerConfig:
    return resolve_from_args(args, environ).config
