"""Whether a namespace's policy allows an agent deployment (pure)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from models.agents import AgentSpec
from models.errors import FieldViolation
from models.security import AccessPolicy

# runtime_env keys that install packages, i.e. run their code on the cluster.
PACKAGE_INSTALL_KEYS = ("pip", "conda", "uv")


def _module_allowed(import_path: str, prefixes: tuple[str, ...]) -> bool:
    module = import_path.partition(":")[0]
    return any(module == p or module.startswith(p.rstrip(".") + ".") for p in prefixes)


def _host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    host = host.lower().rstrip(".")
    for pattern in allowed:
        pattern = pattern.lower().rstrip(".")
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and host != pattern[2:]:
                return True
        elif host == pattern:
            return True
    return False


def deployment_problems(
    policy: AccessPolicy, spec: AgentSpec, field: str = "agent"
) -> list[FieldViolation]:
    problems = []
    prefixes = policy.allowed_import_prefixes
    if spec.import_path and prefixes and not _module_allowed(spec.import_path, prefixes):
        problems.append(
            FieldViolation(
                f"{field}.import_path",
                f"namespace {policy.namespace!r} allows modules under "
                f"{', '.join(prefixes)} only, not {spec.import_path!r}",
            )
        )
    hosts = policy.allowed_endpoint_hosts
    if spec.endpoint and hosts:
        host = urlsplit(spec.endpoint).hostname or ""
        if not _host_allowed(host, hosts):
            problems.append(
                FieldViolation(
                    f"{field}.endpoint",
                    f"namespace {policy.namespace!r} allows endpoints on "
                    f"{', '.join(hosts)} only, not {host!r}",
                )
            )
    runtime_env: dict[str, Any] = spec.runtime_env or {}
    if policy.deny_package_installs:
        for key in PACKAGE_INSTALL_KEYS:
            if key in runtime_env:
                problems.append(
                    FieldViolation(
                        f"{field}.runtime_env.{key}",
                        f"namespace {policy.namespace!r} does not allow installing packages",
                    )
                )
    return problems
