"""The well-known protobuf types (Struct, Value, Timestamp, Duration) <-> plain Python values.

Times are float seconds since the epoch in the models; durations are float seconds.
"""

from __future__ import annotations

import math
from typing import Any

from google.protobuf import duration_pb2, json_format, struct_pb2, timestamp_pb2


def plain_numbers(value: Any) -> Any:
    """protobuf Struct stores every number as a double; give integral ones back as ints
    (JSON does not distinguish them, and `3` reads better than `3.0`)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_numbers(v) for v in value]
    return value


def struct_safe(value: Any) -> Any:
    """A copy a Struct can hold: non-finite floats become None, tuples lists, keys strings and
    any other object its text."""
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): struct_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [struct_safe(v) for v in value]
    return str(value)


def _plain(message: struct_pb2.Value) -> Any:
    """The Python value of a Value. Not json_format.MessageToDict: that raises for a NaN or an
    infinite number, which a server of another version (or a foreign client) may send; those
    come back as floats for the value checks and the CLI to deal with. Protobuf's decoding
    limit keeps the recursion shallow."""
    kind = message.WhichOneof("kind")
    if kind == "struct_value":
        return {key: _plain(item) for key, item in message.struct_value.fields.items()}
    if kind == "list_value":
        return [_plain(item) for item in message.list_value.values]
    if kind == "number_value":
        return plain_numbers(message.number_value)
    if kind == "string_value":
        return message.string_value
    if kind == "bool_value":
        return message.bool_value
    return None


def struct_to_dict(message: struct_pb2.Struct) -> dict[str, Any]:
    return {key: _plain(item) for key, item in message.fields.items()}


def dict_to_struct(value: dict[str, Any] | None) -> struct_pb2.Struct:
    """The Struct of `value` as `struct_safe` would make it, set field by field (about twice
    as fast as Struct.update, which every streamed event pays)."""
    message = struct_pb2.Struct()
    if value:
        fields = message.fields
        for key, item in value.items():
            _set_value(fields[str(key)], item)
    return message


def _set_value(target: struct_pb2.Value, value: Any) -> None:
    if value is None:
        target.null_value = struct_pb2.NULL_VALUE
    elif isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, str):
        target.string_value = value
    elif isinstance(value, int):
        target.number_value = value
    elif isinstance(value, float):
        if math.isfinite(value):
            target.number_value = value
        else:
            target.null_value = struct_pb2.NULL_VALUE
    elif isinstance(value, dict):
        fields = target.struct_value.fields
        target.struct_value.SetInParent()  # an empty dict is still a struct
        for key, item in value.items():
            _set_value(fields[str(key)], item)
    elif isinstance(value, list | tuple):
        values = target.list_value.values
        target.list_value.SetInParent()
        for item in value:
            _set_value(values.add(), item)
    else:
        target.string_value = str(value)


def to_value(value: Any) -> struct_pb2.Value:
    message = struct_pb2.Value()
    json_format.ParseDict(struct_safe(value), message)
    return message


def from_value(message: struct_pb2.Value) -> Any:
    return _plain(message)


def timestamp(seconds: float | None) -> timestamp_pb2.Timestamp | None:
    """None stays None, so that an unset time stays an unset field."""
    return None if seconds is None else instant(seconds)


def instant(seconds: float) -> timestamp_pb2.Timestamp:
    # Whole seconds and nanoseconds apart: an epoch time in nanoseconds is beyond what a
    # double holds exactly, so `seconds * 1e9` would not come back as the same float.
    whole = math.floor(seconds)
    nanos = round((seconds - whole) * 1e9)
    if nanos == 1_000_000_000:
        whole, nanos = whole + 1, 0
    return timestamp_pb2.Timestamp(seconds=whole, nanos=nanos)


def seconds(message: timestamp_pb2.Timestamp) -> float:
    return message.seconds + message.nanos / 1e9


def optional_seconds(owner: Any, name: str) -> float | None:
    """The time (or duration) in field `name` of `owner` in seconds; None when it is unset."""
    if not owner.HasField(name):
        return None
    value = getattr(owner, name)
    if isinstance(value, timestamp_pb2.Timestamp):
        return seconds(value)
    return duration_seconds(value)


def duration(seconds_value: float) -> duration_pb2.Duration:
    message = duration_pb2.Duration()
    message.FromNanoseconds(round(seconds_value * 1e9))
    return message


def duration_seconds(message: duration_pb2.Duration) -> float:
    return float(message.ToNanoseconds()) / 1e9
