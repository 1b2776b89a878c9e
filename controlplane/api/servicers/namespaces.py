"""The namespace a request names: empty is `default`, a bad name INVALID_ARGUMENT naming the
request's `namespace` field. `*` (every namespace) only where a list may span them."""

from __future__ import annotations

from models.errors import InvalidArgument
from models.namespaces import check_namespace, namespace_or_default


def request_namespace(namespace: str, *, allow_all: bool = False) -> str:
    namespace = namespace_or_default(namespace)
    problems = check_namespace("namespace", namespace, allow_all=allow_all)
    if problems:
        raise InvalidArgument(f"invalid namespace {namespace!r}", problems)
    return namespace
