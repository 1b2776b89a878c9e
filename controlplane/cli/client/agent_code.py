"""The code and environment of `agents deploy`: the runtime_env its flags make, and the
directories they name packaged here and uploaded before the deploy is sent."""

from __future__ import annotations

import argparse
import copy
import hashlib
from dataclasses import dataclass
from typing import Any

from controlplane.api.client import OrchestratorClient
from controlplane.api.client.packaging import Package, PackagingError, build_package, mib
from controlplane.cli.usage import UsageProblem
from models.packages import StoredPackage


@dataclass(frozen=True)
class ShippedPackage:
    flag: str  # "--working-dir" or "--py-module"
    directory: str
    package: Package
    stored: StoredPackage

    def describe(self) -> str:
        held = "uploaded" if self.stored.created else "already held"
        files = f"{self.package.files} file" + ("" if self.package.files == 1 else "s")
        return (
            f"{self.flag} {self.directory}: {self.stored.uri} ({files}, "
            f"{mib(self.package.size_bytes)}, {held})"
        )


@dataclass(frozen=True)
class AgentCode:
    runtime_env: dict[str, Any]
    shipped: tuple[ShippedPackage, ...]

    @property
    def default_version(self) -> str:
        """code-<12 hex digits> of the packages shipped: changed code is a new version."""
        if not self.shipped:
            return "v1"
        uris = "\n".join(p.stored.uri for p in self.shipped)
        return f"code-{hashlib.sha256(uris.encode()).hexdigest()[:12]}"


def runtime_env_from_flags(args: argparse.Namespace) -> dict[str, Any]:
    """--runtime-env with --pip and --env added (UsageProblem when they cannot be merged)."""
    env: dict[str, Any] = copy.deepcopy(args.runtime_env or {})
    if args.working_dir and "working_dir" in env:
        raise UsageProblem("give the code as --working-dir or runtime_env.working_dir, not both")
    if args.env:
        env_vars = env.setdefault("env_vars", {})
        if not isinstance(env_vars, dict):
            raise UsageProblem("runtime_env.env_vars must be an object to add --env to it")
        env_vars.update(dict(args.env))
    if args.pip:
        pip = env.get("pip")
        if pip is None:
            env["pip"] = list(args.pip)
        elif isinstance(pip, list):
            pip.extend(args.pip)
        elif isinstance(pip, dict) and isinstance(pip.get("packages", []), list):
            pip.setdefault("packages", []).extend(args.pip)
        else:
            raise UsageProblem("runtime_env.pip must be a list or {packages: [...]} to add --pip")
    if args.py_module and not isinstance(env.get("py_modules", []), list):
        raise UsageProblem("runtime_env.py_modules must be a list to add --py-module to it")
    return env


def ship_code(args: argparse.Namespace, client: OrchestratorClient) -> AgentCode:
    """Packages every --working-dir and --py-module directory (all of them before anything is
    sent, so a local problem sends nothing), uploads them and names them in the runtime_env."""
    env = runtime_env_from_flags(args)
    wanted = [("--working-dir", args.working_dir, False)] if args.working_dir else []
    wanted += [("--py-module", directory, True) for directory in args.py_module]
    built = []
    for flag, directory, as_module in wanted:
        try:
            package = build_package(directory, as_module=as_module, max_bytes=args.max_package_size)
        except PackagingError as exc:
            raise UsageProblem(f"{flag}: {exc}") from None
        built.append((flag, directory, package))
    shipped = []
    for flag, directory, package in built:
        stored = client.upload_package(package.data)
        shipped.append(ShippedPackage(flag, directory, package, stored))
        if flag == "--working-dir":
            env["working_dir"] = stored.uri
        else:
            env.setdefault("py_modules", []).append(stored.uri)
    return AgentCode(env, tuple(shipped))
