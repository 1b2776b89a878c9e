"""`import controlplane.api.client` in a fresh interpreter loads neither the control plane nor
the heavy libraries, and no distribution beyond requirements/client.txt (and what those
require): a program that only talks to a control plane starts fast and installs little."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = (
    "ray",
    "ray_backend",
    "ortools",
    "statsmodels",
    "sklearn",
    "scipy",
    "matplotlib",
    "pandas",
    "numpy",
    "yaml",
    "rich",
    "scheduler",
    "controlplane.engine",
    "controlplane.store",
    "controlplane.workflow",
    "controlplane.app",
    "controlplane.api.servicers",
)
# grpc looks for these optional plugins when it is imported; a client-only install lacks them.
PROBED_BY_GRPC = {"grpcio-tools", "grpcio-reflection"}
OWN = {"agent-orchestrator"}


def _loaded(code: str) -> set[str]:
    """Every module `python -X importtime -c code` imports."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    lines = [line for line in run.stderr.splitlines() if line.startswith("import time:")]
    return {line.split("|")[-1].strip() for line in lines[1:]}


def _requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            names.add(_normal(re.split(r"[\s<>=!~;\[]", line.strip(), maxsplit=1)[0]))
    return names


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _with_dependencies(names: set[str]) -> set[str]:
    """`names` and every distribution they require, transitively (extras not included)."""
    todo, seen = list(names), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for requirement in importlib.metadata.requires(name) or []:
            if "extra ==" not in requirement:
                todo.append(_normal(re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0]))
    return seen


def _distributions(modules: set[str]) -> set[str]:
    """The distributions the modules come from (a namespace package such as `google` is
    shared: its sub-package decides)."""
    owners = importlib.metadata.packages_distributions()
    found = set()
    for module in modules:
        parts = module.split(".")
        candidates = owners.get(parts[0], [])
        if len(candidates) > 1:  # the namespace itself belongs to none of them
            folder = "/".join(parts[:2])
            candidates = [c for c in candidates if len(parts) > 1 and _has(c, folder)]
        found.update(_normal(c) for c in candidates)
    return found


def _has(distribution: str, folder: str) -> bool:
    files = importlib.metadata.files(distribution) or []
    return any(str(f).startswith((f"{folder}/", f"{folder}.")) for f in files)


def test_the_client_loads_no_heavy_module() -> None:
    loaded = _loaded("import controlplane.api.client")
    heavy = sorted(m for m in loaded if any(m == h or m.startswith(f"{h}.") for h in HEAVY))
    assert heavy == []
    assert "controlplane.api.codec.workflows" in loaded  # the check saw the client's imports


def test_the_client_needs_only_the_client_requirements() -> None:
    used = _distributions(_loaded("import controlplane.api.client") - _loaded("pass"))
    allowed = _with_dependencies(_requirement_names(ROOT / "requirements" / "client.txt"))
    assert sorted(used - allowed - PROBED_BY_GRPC - OWN) == []
