"""Namespace names, and the one key an agent, workflow or schedule is stored and run under.

A resource of the `default` namespace keeps its bare name as its key, so data and detached
Ray actors from before namespaces stay where they are; one of another namespace is keyed
`namespace/name` (a `/` is in no namespace or resource name).
"""

from __future__ import annotations

import re

from models.errors import FieldViolation, InvalidArgument
from models.security import ALL_NAMESPACES, DEFAULT_NAMESPACE

# DNS-label names (Kubernetes' rule), so a namespace can also name things outside.
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
MAX_NAMESPACE = 63


def namespace_problem(namespace: str, *, allow_all: bool = False) -> str | None:
    """What is wrong with a namespace name, or None; `*` (every namespace) only where a list
    may span them."""
    if allow_all and namespace == ALL_NAMESPACES:
        return None
    if len(namespace) > MAX_NAMESPACE or not _NAMESPACE.match(namespace):
        return "must be 1-63 lower-case letters, digits or '-', starting and ending alphanumeric"
    return None


def check_namespace(field: str, namespace: str, *, allow_all: bool = False) -> list[FieldViolation]:
    problem = namespace_problem(namespace, allow_all=allow_all)
    return [] if problem is None else [FieldViolation(field, problem)]


def namespace_or_default(namespace: str) -> str:
    """A request's namespace: empty means `default`."""
    return namespace or DEFAULT_NAMESPACE


def request_namespace(namespace: str, *, allow_all: bool = False) -> str:
    """A request's namespace (empty: `default`); InvalidArgument naming the request's
    `namespace` field when it is malformed (`*` only where `allow_all`)."""
    namespace = namespace_or_default(namespace)
    problems = check_namespace("namespace", namespace, allow_all=allow_all)
    if problems:
        raise InvalidArgument(f"namespace: {problems[0].description}", problems)
    return namespace


def qualified_name(namespace: str, name: str) -> str:
    """The key `name` of `namespace` is stored and run under."""
    if namespace == DEFAULT_NAMESPACE:
        return name
    return f"{namespace}/{name}"


def split_qualified(key: str) -> tuple[str, str]:
    """(namespace, name) of a key `qualified_name` made."""
    namespace, sep, name = key.partition("/")
    if not sep:
        return DEFAULT_NAMESPACE, key
    return namespace, name
