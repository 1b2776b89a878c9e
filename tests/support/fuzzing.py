"""What the fuzz suites share: their hypothesis profiles and a strategy that builds any protobuf
message from its descriptor.

Two profiles: `fuzz` (the default: few examples, derandomized so a CI run is repeatable) and
`long` (`HYPOTHESIS_PROFILE=long`: fifty times the examples, a fresh random seed each run).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from google.protobuf import descriptor as pb_descriptor
from google.protobuf import message_factory
from google.protobuf.message import Message
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
LONG_FACTOR = 50

_COMMON: dict[str, Any] = {
    "suppress_health_check": list(HealthCheck),
    "database": None,
    "print_blob": True,
}
settings.register_profile("fuzz", derandomize=True, **_COMMON)
settings.register_profile("long", derandomize=False, **_COMMON)


def fuzz_settings(examples: int, deadline_s: float | None = None) -> settings:
    """`examples` per test in the default profile (times LONG_FACTOR in the long one); with
    `deadline_s`, an example that takes longer fails (a hang is a bug)."""
    return settings(
        settings.get_profile("long" if LONG else "fuzz"),
        max_examples=examples * (LONG_FACTOR if LONG else 1),
        deadline=None if deadline_s is None else timedelta(seconds=deadline_s),
    )


# -- values -----------------------------------------------------------------------------------

# Every code point but lone surrogates (protobuf strings are UTF-8): control characters, NUL,
# right-to-left marks, emoji, unassigned code points.
characters = st.characters(blacklist_categories=("Cs",))
HUGE_TEXTS = (
    "x" * 200_000,
    "\x00" * 5_000,
    "é☃𝄞" * 20_000,
    "\u202e" * 1_000,
    "../" * 2_000,
    "a" * 64,
    "${inputs.x}" * 100,
)
NAMES = ("", "a", "default", "work", "team-a", "-", "A_B", "0", " ", "*", "..", "a/b", "é")
texts = (
    st.text(characters, max_size=40)
    | st.sampled_from(NAMES)
    | st.sampled_from(HUGE_TEXTS)
    | st.text(st.sampled_from("\x00\x01\x1b\n\r\t\x7f\u2028\ufeff"), max_size=10)
)


def _integers(low: int, high: int) -> st.SearchStrategy[int]:
    edges = [v for v in (low, high, 0, -1, 1, 2**31 - 1, -(2**31), 2**53 + 1) if low <= v <= high]
    return st.sampled_from(edges) | st.integers(low, high)


_INT_RANGES = {
    pb_descriptor.FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    pb_descriptor.FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    pb_descriptor.FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    pb_descriptor.FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    pb_descriptor.FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    pb_descriptor.FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    pb_descriptor.FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    pb_descriptor.FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    pb_descriptor.FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    pb_descriptor.FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}
doubles = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [float("nan"), float("inf"), -float("inf"), -0.0, 1e308, 5e-324, 2.0**53 + 1]
)


def _scalar(field: pb_descriptor.FieldDescriptor) -> st.SearchStrategy[Any]:
    kind = field.type
    if kind in _INT_RANGES:
        return _integers(*_INT_RANGES[kind])
    if kind == field.TYPE_STRING:
        return texts
    if kind == field.TYPE_BYTES:
        return st.binary(max_size=64) | st.just(b"\x00" * 100_000)
    if kind == field.TYPE_BOOL:
        return st.booleans()
    if kind == field.TYPE_DOUBLE:
        return doubles
    if kind == field.TYPE_FLOAT:
        return st.floats(width=32, allow_nan=True, allow_infinity=True)
    if kind == field.TYPE_ENUM:
        numbers = [v.number for v in field.enum_type.values]
        # Open enums: numbers the contract does not know arrive as they are.
        return st.sampled_from(numbers) | st.integers(-3, max(numbers) + 3) | st.just(2**31 - 1)
    raise AssertionError(f"unhandled field type {kind} of {field.full_name}")


# -- messages ---------------------------------------------------------------------------------


def message_class(descriptor: pb_descriptor.Descriptor) -> type[Message]:
    return message_factory.GetMessageClass(descriptor)


@st.composite
def messages(draw: st.DrawFn, descriptor: pb_descriptor.Descriptor, depth: int = 4) -> Message:
    """A message of `descriptor` with a random subset of its fields set to hostile values;
    nested messages (Struct values included) down to `depth` levels."""
    message = message_class(descriptor)()
    for field in descriptor.fields:
        if not draw(st.booleans()):
            continue
        is_message = field.type == field.TYPE_MESSAGE
        if is_message and depth <= 0:
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            _fill_map(draw, message, field, depth)
        elif field.label == field.LABEL_REPEATED:
            count = draw(st.integers(0, 4))
            container = getattr(message, field.name)
            for _ in range(count):
                if is_message:
                    container.add().CopyFrom(draw(messages(field.message_type, depth - 1)))
                else:
                    container.append(draw(_scalar(field)))
        elif is_message:
            getattr(message, field.name).CopyFrom(draw(messages(field.message_type, depth - 1)))
        else:
            setattr(message, field.name, draw(_scalar(field)))
    return message


def _fill_map(
    draw: st.DrawFn, message: Message, field: pb_descriptor.FieldDescriptor, depth: int
) -> None:
    key_field = field.message_type.fields_by_name["key"]
    value_field = field.message_type.fields_by_name["value"]
    container = getattr(message, field.name)
    for _ in range(draw(st.integers(0, 3))):
        key = draw(_scalar(key_field))
        if value_field.type == value_field.TYPE_MESSAGE:
            if depth <= 1:
                continue
            container[key].CopyFrom(draw(messages(value_field.message_type, depth - 1)))
        else:
            container[key] = draw(_scalar(value_field))
