"""An agent's key, which models carry (its name in the `default` namespace, `namespace/name`
in another), <-> the namespace and bare name the wire carries; and the key of the agent a
request names."""

from __future__ import annotations

from models.errors import FieldViolation, InvalidArgument
from models.namespaces import (
    check_namespace,
    namespace_or_default,
    qualified_name,
    split_qualified,
)


def key_to_wire(key: str) -> tuple[str, str]:
    """(namespace, name) of an agent's key."""
    return split_qualified(key)


def key_from_wire(namespace: str, name: str) -> str:
    """The key of agent `name` of `namespace` as a response carries them (empty: default)."""
    return qualified_name(namespace_or_default(namespace), name)


def request_key(namespace: str, name: str, name_field: str = "name") -> str:
    """The key of the agent a request names. A name holding '/' is refused: it would reach
    into another namespace than the request's."""
    namespace = namespace_or_default(namespace)
    problems = check_namespace("namespace", namespace)
    if "/" in name:
        problems.append(
            FieldViolation(name_field, "must not contain '/': the namespace goes in `namespace`")
        )
    if problems:
        raise _refused(problems)
    # No name stays none, for the engine to refuse as it does any missing name.
    return qualified_name(namespace, name) if name else ""


def check_own_namespace(given: str, request_namespace: str, field: str) -> None:
    """A message inside a request may name its namespace only as the request does."""
    namespace = namespace_or_default(request_namespace)
    if given and given != namespace:
        why = f"must be empty or the request's namespace {namespace!r}"
        raise _refused([FieldViolation(field, why)])


def _refused(problems: list[FieldViolation]) -> InvalidArgument:
    first = problems[0]
    return InvalidArgument(f"{first.field}: {first.description}", problems)
