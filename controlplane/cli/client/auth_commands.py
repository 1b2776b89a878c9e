"""The `auth` commands' arguments: `auth init` (local: the first admin key of a data dir),
`auth whoami|namespaces`, `auth keys create|list|revoke`, `auth grant|revoke|bindings`,
`auth policy set|show`; their handlers (`auth`) are imported when a command runs."""

from __future__ import annotations

import argparse
from typing import Any

from controlplane.cli.arg_types import duration_arg
from controlplane.cli.client.scaling_commands import sub
from controlplane.cli.lazy import handler

HANDLERS = "auth"
ROLES = ("viewer", "operator", "developer", "admin")


def _key_create_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", required=True, help="unique among working keys")
    parser.add_argument(
        "--role", required=True, choices=ROLES, help="held in --namespace ('*': every one)"
    )


def _key_list_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--all", action="store_true", help="revoked keys too")


def _key_revoke_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("key", help="the key's id or name")


def _grant_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--subject", required=True, help="certificate subject (see whoami)")
    parser.add_argument(
        "--role", required=True, choices=ROLES, help="held in --namespace ('*': every one)"
    )


def _revoke_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--subject", required=True, help="its role in --namespace goes")


def _policy_set_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("policy_namespace", metavar="NAMESPACE")
    parser.add_argument(
        "--allow-import",
        action="append",
        default=[],
        metavar="PREFIX",
        help="module prefix agents may be imported from (repeatable; none: any)",
    )
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="HOST",
        help="endpoint host external agents may use, '*.example.com' for subdomains "
        "(repeatable; none: any)",
    )
    parser.add_argument(
        "--deny-package-installs",
        action="store_true",
        help="refuse runtime_env pip/conda/uv installs",
    )
    for what in ("execution", "audit"):
        parser.add_argument(
            f"--{what}-retention",
            type=duration_arg,
            default=0.0,
            metavar="DURATION",
            help=f"keep {what} history this long, e.g. 30d (default: the server's setting)",
        )


def _policy_show_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("policy_namespace", metavar="NAMESPACE")


def register(top: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    auth = top.add_parser(
        "auth",
        help="API keys, roles and namespace policies",
        description="Who may call the control plane: API keys, role bindings of certificate "
        "subjects, what each namespace may deploy (AuthService).",
        parents=[common],
    )
    group = auth.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
    init = group.add_parser(
        "init",
        help="create the first admin key of a data dir (no server needed)",
        description="Creates the first admin key (on every namespace) of a data directory and "
        "prints it once. Refused when the data dir has keys already.",
    )
    init.add_argument("--data-dir", default="orchestrator-data")
    init.add_argument("--name", default="admin")
    init.set_defaults(local_handler=handler("controlplane.cli.server.auth_init:init"))
    sub(group, common, "whoami", "the caller as the server sees it", f"{HANDLERS}:whoami")
    sub(group, common, "namespaces", "the namespaces you hold a role in", f"{HANDLERS}:namespaces")
    keys = group.add_parser("keys", help="API keys", parents=[common])
    key_group = keys.add_subparsers(dest="key_command", metavar="COMMAND", required=True)
    sub(
        key_group,
        common,
        "create",
        "create a key (printed once)",
        f"{HANDLERS}:key_create",
        fill=_key_create_flags,
    )
    sub(key_group, common, "list", "list keys", f"{HANDLERS}:key_list", fill=_key_list_flags)
    sub(
        key_group,
        common,
        "revoke",
        "revoke a key",
        f"{HANDLERS}:key_revoke",
        fill=_key_revoke_flags,
    )
    sub(
        group,
        common,
        "grant",
        "give a certificate subject a role",
        f"{HANDLERS}:grant",
        fill=_grant_flags,
    )
    sub(
        group,
        common,
        "revoke",
        "take a subject's role in a namespace",
        f"{HANDLERS}:revoke",
        fill=_revoke_flags,
    )
    sub(group, common, "bindings", "list subjects' role bindings", f"{HANDLERS}:bindings")
    policy = group.add_parser("policy", help="namespace policies", parents=[common])
    policy_group = policy.add_subparsers(dest="policy_command", metavar="COMMAND", required=True)
    sub(
        policy_group,
        common,
        "set",
        "set a namespace's policy",
        f"{HANDLERS}:policy_set",
        fill=_policy_set_flags,
    )
    sub(
        policy_group,
        common,
        "show",
        "show a namespace's policy",
        f"{HANDLERS}:policy_show",
        fill=_policy_show_flags,
    )
