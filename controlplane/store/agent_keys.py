"""Rows keyed by an agent's key (models.namespaces.qualified_name: the bare name in the default
namespace, `namespace/name` elsewhere): which of them belong to a namespace."""

from __future__ import annotations

from typing import Any

from models.namespaces import split_qualified
from models.security import ALL_NAMESPACES, DEFAULT_NAMESPACE


def in_namespace(key: str, namespace: str) -> bool:
    """Whether the agent keyed `key` belongs to `namespace` (`*`: to any)."""
    return namespace == ALL_NAMESPACES or split_qualified(key)[0] == namespace


def key_condition(column: str, namespace: str) -> tuple[str, tuple[Any, ...]]:
    """An SQL condition on `column` (a key) that holds for the keys of `namespace`. Another
    namespace's keys are the range ['N/', 'N0'), '0' following '/', so the key's index serves."""
    if namespace == ALL_NAMESPACES:
        return "1", ()
    if namespace == DEFAULT_NAMESPACE:
        return f"instr({column}, '/') = 0", ()
    return f"{column} >= ? AND {column} < ?", (f"{namespace}/", f"{namespace}0")
