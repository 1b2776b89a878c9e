"""What an audit record says of a request: its namespace, the resource it names, and a
summary of it as JSON with secrets redacted and large values cut, at most about 4 KiB.

Redacted (the key stays, its value becomes "[redacted]"), at any depth, the inputs and
payloads included: fields and keys that name a secret (password, secret, token, key,
credentials, authorization, cookie, headers...), every value of a `config` and of an
`env_vars` (their keys are kept: they say what was set, not to what).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from google.protobuf.message import Message

from controlplane.api.codec.wellknown import from_value, struct_to_dict
from controlplane.api.interceptors.mutations import RpcKind
from models.security import DEFAULT_NAMESPACE

REDACTED = "[redacted]"
MAX_SUMMARY_BYTES = 4096
# A value (text, list or object) whose JSON is longer is cut: payloads and inputs over this.
MAX_VALUE_BYTES = 2048
KEPT_PREFIX_CHARS = 200
MAX_RESOURCE_CHARS = 256

_SECRET_WORDS = frozenset(
    {
        "authorization",
        "apikey",
        "cookie",
        "cookies",
        "credential",
        "credentials",
        "header",
        "headers",
        "key",
        "keys",
        "passphrase",
        "passwd",
        "password",
        "pem",
        "secret",
        "secrets",
        "token",
        "tokens",
    }
)
# A name ending so describes a secret without being one ("key_id", "token_count").
_HARMLESS_LAST_WORDS = frozenset({"id", "ids", "name", "names", "count", "prefix", "prefixes"})
_KEYS_ONLY = frozenset({"config", "env_vars"})
_WORDS = re.compile(r"[a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def is_secret(name: str) -> bool:
    words = _WORDS.findall(_CAMEL.sub("_", name).lower())
    if not words or words[-1] in _HARMLESS_LAST_WORDS:
        return False
    return any(word in _SECRET_WORDS for word in words)


# -- namespace and resource --------------------------------------------------------------------


def _field(message: Any, path: list[str]) -> Any:
    value = message
    for name in path:
        if not isinstance(value, Message) or name not in value.DESCRIPTOR.fields_by_name:
            return None
        value = getattr(value, name)
    return value


def _has_namespace(message: Any) -> bool:
    return isinstance(message, Message) and "namespace" in message.DESCRIPTOR.fields_by_name


def namespace_of(request: Any, kind: RpcKind) -> str:
    """The request's `namespace` ("default" when empty): at its top, else next to the field
    that names the resource; "" when it has none (a cluster-wide resource)."""
    owner = request if _has_namespace(request) else None
    if owner is None and isinstance(kind.resource, str) and "." in kind.resource:
        parent = _field(request, kind.resource.split(".")[:-1])
        owner = parent if _has_namespace(parent) else None
    if owner is None:
        return ""
    return str(owner.namespace) or DEFAULT_NAMESPACE


def resource_of(request: Any, kind: RpcKind) -> str:
    if request is None or not kind.resource:
        return ""
    if callable(kind.resource):
        try:
            value: Any = kind.resource(request)
        except Exception:  # a record must not fail for what a summary cannot read
            return ""
    else:
        value = _field(request, kind.resource.split("."))
    text = "" if value is None or isinstance(value, Message) else str(value)
    return _cut_text(text, MAX_RESOURCE_CHARS)


# -- the summary -------------------------------------------------------------------------------


def _cut_text(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def _scalar(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


def _plain_value(value: Any) -> Any:
    """A Struct's value, with numbers JSON cannot carry as their text."""
    if isinstance(value, dict):
        return {str(k): _plain_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_value(v) for v in value]
    return _scalar(value)


def _message(message: Message) -> Any:
    name = message.DESCRIPTOR.full_name
    if name == "google.protobuf.Struct":
        return _plain_value(struct_to_dict(message))  # type: ignore[arg-type]
    if name == "google.protobuf.Value":
        return _plain_value(from_value(message))  # type: ignore[arg-type]
    if name == "google.protobuf.ListValue":
        return [_plain_value(from_value(v)) for v in message.values]  # type: ignore[attr-defined]
    if name in ("google.protobuf.Timestamp", "google.protobuf.Duration"):
        try:
            return message.ToJsonString()  # type: ignore[attr-defined]
        except ValueError:  # out of range: what the handler refuses
            return str(message)
    out: dict[str, Any] = {}
    for field, value in message.ListFields():
        out[field.name] = _field_value(field, value)
    return out


def _one(field: Any, value: Any) -> Any:
    if field.message_type is not None:
        return _message(value)
    if field.enum_type is not None:
        known = field.enum_type.values_by_number.get(value)
        return known.name if known is not None else value
    return _scalar(value)


def _field_value(field: Any, value: Any) -> Any:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        value_field = field.message_type.fields_by_name["value"]
        return {str(k): _one(value_field, v) for k, v in value.items()}
    if field.label == field.LABEL_REPEATED:
        return [_one(field, item) for item in value]
    return _one(field, value)


def _redacted(value: Any, keys_only: bool = False) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if keys_only or is_secret(key):
                out[key] = REDACTED
            else:
                out[key] = _redacted(item, key in _KEYS_ONLY)
        return out
    if isinstance(value, list):
        return [_redacted(item, keys_only) for item in value]
    return REDACTED if keys_only else value


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def _cut(value: Any) -> Any:
    """`value` with every text, list and object whose JSON is over MAX_VALUE_BYTES (once the
    values inside it are cut) replaced by what says so: a text by its start, the rest by its
    size."""
    if isinstance(value, str):
        return _cut_text(value, KEPT_PREFIX_CHARS) if _size(value) > MAX_VALUE_BYTES else value
    if isinstance(value, dict):
        value = {key: _cut(item) for key, item in value.items()}
    elif isinstance(value, list):
        value = [_cut(item) for item in value]
    else:
        return value
    size = _size(value)
    return f"<{size} bytes left out>" if size > MAX_VALUE_BYTES else value


def _bounded(summary: dict[str, Any]) -> str:
    """The JSON of `summary` within MAX_SUMMARY_BYTES: the largest fields left out first."""
    fields = {key: _cut(value) for key, value in summary.items()}
    for key in sorted(fields, key=lambda k: _size(fields[k]), reverse=True):
        if _size(fields) <= MAX_SUMMARY_BYTES:
            break
        fields[key] = f"<{_size(fields[key])} bytes left out>"
    text = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    if len(text.encode()) > MAX_SUMMARY_BYTES:  # thousands of fields: say only how much
        return json.dumps({"left_out_bytes": len(text.encode())})
    return text


def summarize(request: Any) -> str:
    """The request as JSON for the audit log (`{}` for a client stream the record never sees)."""
    if not isinstance(request, Message):
        return "{}"
    return _bounded(_redacted(_message(request)))
