"""Code packages: zip files of a user's agent code, stored by the control plane under their
sha256 and referenced from an agent's runtime_env as ``package://sha256-<hex>``."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SCHEME = "package://"
# The largest zip a client builds from a directory unless told otherwise.
DEFAULT_MAX_PACKAGE_BYTES = 100 * 2**20
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_REF = re.compile(r"^package://sha256-(?P<digest>[0-9a-f]{64})$")
# The runtime_env fields Ray reads code from: one URI, or a list of them.
CODE_FIELDS = ("working_dir", "py_modules")


def is_digest(text: str) -> bool:
    """64 lower-case hex digits: a sha256 as packages are named by."""
    return bool(_DIGEST.match(text))


@dataclass(frozen=True)
class PackageRef:
    """A stored package, by the sha256 of its zip bytes."""

    digest: str

    @property
    def uri(self) -> str:
        return f"{SCHEME}sha256-{self.digest}"

    @property
    def file_name(self) -> str:
        return f"sha256-{self.digest}.zip"

    @classmethod
    def parse(cls, text: str) -> PackageRef | None:
        """The package a ``package://sha256-<hex>`` URI names; None for anything else."""
        found = _REF.match(text)
        return cls(found["digest"]) if found else None


@dataclass(frozen=True)
class StoredPackage:
    """What an upload answers: the URI to put in runtime_env, and whether this upload stored
    it (False: the control plane held it already)."""

    uri: str
    sha256: str
    size_bytes: int
    created: bool


@dataclass(frozen=True)
class CodeLocation:
    """One place a runtime_env names code: ``field`` is its path in the spec
    (``runtime_env.py_modules[1]``), ``value`` what it says."""

    field: str
    value: Any


def code_locations(runtime_env: dict[str, Any]) -> list[CodeLocation]:
    """Every value of working_dir and py_modules, with its path."""
    found: list[CodeLocation] = []
    if "working_dir" in runtime_env:
        found.append(CodeLocation("runtime_env.working_dir", runtime_env["working_dir"]))
    modules = runtime_env.get("py_modules")
    if isinstance(modules, list):
        found.extend(
            CodeLocation(f"runtime_env.py_modules[{i}]", value) for i, value in enumerate(modules)
        )
    elif modules is not None:
        found.append(CodeLocation("runtime_env.py_modules", modules))
    return found


def package_refs(runtime_env: dict[str, Any]) -> list[tuple[str, PackageRef]]:
    """The stored packages a runtime_env references, each with the field naming it."""
    refs = []
    for location in code_locations(runtime_env):
        if isinstance(location.value, str):
            ref = PackageRef.parse(location.value)
            if ref is not None:
                refs.append((location.field, ref))
    return refs


# How a backend reads a stored package's zip bytes (FileNotFoundError when it is not held).
PackageReader = Callable[[PackageRef], bytes]
