"""`orchestrator config show`: the configuration `serve` would run with, every setting with its
value and its source (default, file PATH, env VARIABLE, flag --X)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from controlplane.cli.server.settings import resolve_from_args
from controlplane.cli.usage import UsageProblem
from controlplane.config import ConfigError, authentication_required
from controlplane.config_sources import ResolvedConfig


def _text(value: object) -> str:
    """A value as the TOML file would spell it (no value: `-`)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Path):
        return str(value)
    return value if isinstance(value, str) else repr(value)


def _jsonable(value: object) -> object:
    return str(value) if isinstance(value, Path) else value


def render_table(resolved: ResolvedConfig, authentication: bool) -> str:
    rows = [("SETTING", "VALUE", "SOURCE")]
    rows += [(s.path, _text(s.value), str(s.source)) for s in resolved.settings]
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    lines = [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c}".rstrip() for a, b, c in rows]
    lines.append("")
    lines.append(f"authentication: {'required' if authentication else 'off'}")
    return "\n".join(lines) + "\n"


def render_json(resolved: ResolvedConfig, authentication: bool) -> str:
    document = {
        "settings": [
            {
                "setting": s.path,
                "value": _jsonable(s.value),
                "source": str(s.source.kind),
                "origin": s.source.origin or None,
            }
            for s in resolved.settings
        ],
        "authentication_required": authentication,
    }
    return json.dumps(document, indent=2) + "\n"


def run_config_show(args: argparse.Namespace) -> int:
    try:
        resolved = resolve_from_args(args)
        authentication = authentication_required(resolved.config)
    except ConfigError as exc:
        raise UsageProblem(str(exc)) from None
    render = render_json if args.output == "json" else render_table
    sys.stdout.write(render(resolved, authentication))
    return 0
