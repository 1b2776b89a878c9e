"""Handlers of the `auth` commands (AuthService; `auth init` works on a data dir)."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.table import Table

from controlplane.api.client import OrchestratorClient
from controlplane.cli.quantities import seconds_text, when
from controlplane.cli.render import print_json, wants_json
from models.security import AccessPolicy, ApiKeyInfo, Role, RoleBinding

EXIT_OK = 0


def whoami(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    caller, enabled = client.who_am_i()
    if wants_json(args):
        print_json({"caller": caller, "authentication_enabled": enabled})
        return EXIT_OK
    console.print(f"identity: {caller.identity} ({caller.kind.value})")
    console.print(f"authentication: {'on' if enabled else 'off (every caller may do anything)'}")
    for binding in caller.bindings:
        console.print(f"  {binding.role.label} in {binding.namespace}")
    return EXIT_OK


def namespaces(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    found = client.list_namespaces()
    if wants_json(args):
        print_json(found)
    else:
        for namespace in found:
            console.print(namespace)
    return EXIT_OK


def _keys_table(keys: list[ApiKeyInfo]) -> Table:
    table = Table("NAME", "ID", "ROLE", "NAMESPACE", "CREATED", "BY", "REVOKED")
    for key in keys:
        table.add_row(
            key.name,
            key.key_id,
            key.role.label,
            key.namespace,
            when(key.create_time),
            key.created_by,
            when(key.revoke_time),
        )
    return table


def key_create(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    info, token = client.create_api_key(args.name, Role.parse(args.role), args.namespace)
    if wants_json(args):
        print_json({"key": info, "secret": token})
        return EXIT_OK
    sys.stderr.write(
        f"created {info.role.label} key {info.name!r} (id {info.key_id}) in {info.namespace}; "
        "it is shown this once\n"
    )
    sys.stdout.write(token + "\n")
    return EXIT_OK


def key_list(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    keys = client.list_api_keys(include_revoked=args.all)
    if wants_json(args):
        print_json(keys)
    else:
        console.print(_keys_table(keys))
    return EXIT_OK


def key_revoke(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    info = client.revoke_api_key(args.key)
    if wants_json(args):
        print_json(info)
    else:
        console.print(f"revoked key {info.name!r} (id {info.key_id})")
    return EXIT_OK


def grant(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    client.grant_role(args.subject, RoleBinding(args.namespace, Role.parse(args.role)))
    console.print(f"{args.subject}: {args.role} in {args.namespace}")
    return EXIT_OK


def revoke(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    client.revoke_role(args.subject, args.namespace)
    console.print(f"{args.subject}: no role in {args.namespace}")
    return EXIT_OK


def bindings(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    found = client.list_role_bindings()
    if wants_json(args):
        print_json([{"subject": s, "binding": b} for s, b in found])
        return EXIT_OK
    table = Table("SUBJECT", "NAMESPACE", "ROLE")
    for subject, binding in found:
        table.add_row(subject, binding.namespace, binding.role.label)
    console.print(table)
    return EXIT_OK


def _show_policy(args: argparse.Namespace, policy: AccessPolicy, console: Console) -> None:
    if wants_json(args):
        print_json(policy)
        return
    console.print(f"namespace: {policy.namespace}")
    console.print(f"import prefixes: {', '.join(policy.allowed_import_prefixes) or 'any'}")
    console.print(f"endpoint hosts: {', '.join(policy.allowed_endpoint_hosts) or 'any'}")
    console.print(f"package installs: {'denied' if policy.deny_package_installs else 'allowed'}")
    for what, value in (
        ("execution retention", policy.execution_retention_s),
        ("audit retention", policy.audit_retention_s),
    ):
        console.print(f"{what}: {seconds_text(value) if value else 'server default'}")


def policy_set(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    policy = client.set_namespace_policy(
        AccessPolicy(
            namespace=args.policy_namespace,
            allowed_import_prefixes=tuple(args.allow_import),
            allowed_endpoint_hosts=tuple(args.allow_host),
            deny_package_installs=args.deny_package_installs,
            execution_retention_s=args.execution_retention,
            audit_retention_s=args.audit_retention,
        )
    )
    _show_policy(args, policy, console)
    return EXIT_OK


def policy_show(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    _show_policy(args, client.get_namespace_policy(args.policy_namespace), console)
    return EXIT_OK
