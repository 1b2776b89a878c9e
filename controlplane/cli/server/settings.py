"""The server configuration `orchestrator serve` runs with: every default, then the TOML file
of `--config`, then the flags (without `--config`, every flag counts, given or default)."""

from __future__ import annotations

import argparse
from pathlib import Path

from controlplane.cli.server.commands import GIVEN
from controlplane.config import ServerConfig, load_config_file

# serve's flags (their argparse dest) and the setting each one sets.
FLAG_SETTINGS = {
    "port": "grpc.port",
    "host": "grpc.host",
    "data_dir": "store.data_dir",
    "ray_address": "ray.address",
    "ray_num_cpus": "ray.num_cpus",
    "sqlite_synchronous": "store.sqlite_synchronous",
}


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    """Raises ConfigError (naming the setting) for a bad file or value."""
    if args.config:
        base = load_config_file(Path(args.config))
        given = set(getattr(args, GIVEN, ()))
    else:
        base = ServerConfig()
        given = {*FLAG_SETTINGS, "no_dashboard"}
    overrides: dict[str, object] = {
        path: getattr(args, flag) for flag, path in FLAG_SETTINGS.items() if flag in given
    }
    if "no_dashboard" in given and args.no_dashboard:
        overrides["ray.include_dashboard"] = False
    return base.override(overrides)
