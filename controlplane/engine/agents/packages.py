"""Packages of agent code: receiving uploads into the data dir, and checking the code an agent
spec names (working_dir, py_modules) before anything is stored or started."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from controlplane.store.packages import PackageFiles, PackageRejected
from models.agents import AgentSpec
from models.errors import FieldViolation, Unavailable, invalid
from models.packages import (
    SCHEME,
    PackageRef,
    StoredPackage,
    code_locations,
    is_digest,
    package_refs,
)

log = logging.getLogger(__name__)

# Ray keeps a package in its GCS as one value, and refuses values of 512 MiB or more.
MAX_PACKAGE_BYTES = 500 * 2**20
_FLAGS = {
    "runtime_env.working_dir": "--working-dir DIR",
    "runtime_env.py_modules": "--py-module DIR",
}


class PackageService:
    """The packages this control plane holds (in its data dir)."""

    def __init__(self, files: PackageFiles, max_bytes: int = MAX_PACKAGE_BYTES) -> None:
        self._files = files
        self._max_bytes = max_bytes
        files.remove_partial()

    def check_upload(self, sha256: str, size_bytes: int) -> PackageRef:
        """The package an upload declares; InvalidArgument naming the field otherwise."""
        if not is_digest(sha256):
            raise invalid("sha256", "must be the zip's sha256 as 64 lower-case hex digits")
        if size_bytes <= 0:
            raise invalid("size_bytes", "must be the zip's size in bytes, more than 0")
        if size_bytes > self._max_bytes:
            raise invalid(
                "size_bytes",
                f"{size_bytes} bytes is over the limit of {self._max_bytes} bytes for a package",
            )
        return PackageRef(sha256)

    def held(self, ref: PackageRef) -> StoredPackage | None:
        path = self._files.path(ref)
        try:
            size = path.stat().st_size
        except OSError:
            return None
        return StoredPackage(ref.uri, ref.digest, size, created=False)

    async def store(
        self, ref: PackageRef, size_bytes: int, chunks: AsyncIterator[bytes]
    ) -> StoredPackage:
        """Writes the streamed bytes, checks them and makes them durable under the package's
        name. InvalidArgument when they are not what was declared; Unavailable when the disk
        refuses them."""
        try:
            write = await asyncio.to_thread(self._files.begin, ref, size_bytes)
        except OSError as exc:
            raise _disk_refused(exc) from exc
        try:
            async for chunk in chunks:
                if chunk:
                    await asyncio.to_thread(write.write, chunk)
            await asyncio.to_thread(write.commit)
        except PackageRejected as exc:
            await asyncio.to_thread(write.abort)
            raise invalid(exc.field, exc.problem) from None
        except OSError as exc:
            await asyncio.to_thread(write.abort)
            raise _disk_refused(exc) from exc
        except BaseException:
            await asyncio.to_thread(write.abort)
            raise
        log.info("stored package %s (%d bytes)", ref.uri, size_bytes)
        return StoredPackage(ref.uri, ref.digest, size_bytes, created=True)

    def missing(self, spec: AgentSpec, prefix: str = "agent") -> list[FieldViolation]:
        """The package references of `spec` this control plane does not hold."""
        return [
            FieldViolation(
                f"{prefix}.{field}",
                f"no package {ref.uri} is held by this control plane: upload it first",
            )
            for field, ref in package_refs(spec.runtime_env)
            if not self._files.has(ref)
        ]


def code_location_problems(runtime_env: dict[str, Any], prefix: str) -> list[FieldViolation]:
    """Where the runtime_env names code replicas cannot fetch: a local path (Ray takes
    directories only from a job's driver), a malformed package URI, a value not a string."""
    problems: list[FieldViolation] = []
    modules = runtime_env.get("py_modules")
    if modules is not None and not isinstance(modules, list):
        problems.append(
            FieldViolation(f"{prefix}.runtime_env.py_modules", "must be a list of URIs")
        )
        return problems
    for location in code_locations(runtime_env):
        field = f"{prefix}.{location.field}"
        value = location.value
        flag = _FLAGS[location.field.partition("[")[0]]
        if not isinstance(value, str):
            problems.append(FieldViolation(field, "must be a URI string"))
        elif value.startswith(SCHEME):
            if PackageRef.parse(value) is None:
                problems.append(
                    FieldViolation(field, f"must be {SCHEME}sha256-<64 lower-case hex digits>")
                )
        elif "://" not in value:
            problems.append(
                FieldViolation(
                    field,
                    f"{value[:200]!r} is a local path, which replicas cannot load: ship it with "
                    f"`orchestrator agents deploy {flag}` (or UploadPackage and its "
                    f"{SCHEME} URI)",
                )
            )
    return problems


def _disk_refused(exc: OSError) -> Unavailable:
    return Unavailable(f"the control plane could not store the package: {exc.strerror or exc}")
