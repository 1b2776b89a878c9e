"""Proto enum numbers <-> model values, by an explicit table per enum.

A number the table does not know, or UNSPECIFIED where the API gives it no meaning, raises
`UnknownEnumValue` (an InvalidArgument naming the field) instead of turning into a default.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Mapping
from typing import Any, Generic, TypeVar, cast

from models.errors import FieldViolation, InvalidArgument

P = TypeVar("P", bound=int)
M = TypeVar("M", bound=Hashable)
E = TypeVar("E", bound=enum.Enum)


class UnknownEnumValue(InvalidArgument):
    """An enum number with no model value: unknown to this side, or unspecified."""


class EnumTable(Generic[P, M]):
    """The model value of every value of one proto enum but UNSPECIFIED, and back.

    `unspecified`: what UNSPECIFIED (0) means where the API documents a default (e.g.
    LOAD_RESOLUTION_UNSPECIFIED reads as RAW); None: it is rejected.
    """

    def __init__(self, proto: type[P], table: Mapping[P, M], unspecified: M | None = None) -> None:
        # Typed as the enum's class by the generated stubs; an EnumTypeWrapper at run time.
        self._wrapper: Any = cast(Any, proto)
        self.full_name: str = self._wrapper.DESCRIPTOR.full_name
        self._to_model: dict[int, M] = {int(number): value for number, value in table.items()}
        self._to_proto: dict[M, P] = {value: number for number, value in table.items()}
        self.unspecified = unspecified
        known = set(self._wrapper.values())
        if 0 in self._to_model or not set(self._to_model) <= known:
            raise ValueError(f"{self.full_name}: the table maps numbers outside the enum")
        if len(self._to_proto) != len(self._to_model):
            raise ValueError(f"{self.full_name}: two numbers map to one value")

    def model_values(self) -> set[M]:
        return set(self._to_proto)

    def proto_numbers(self) -> set[int]:
        return set(self._to_model) | ({0} if self.unspecified is not None else set())

    def to_proto(self, value: M) -> P:
        try:
            return self._to_proto[value]
        except KeyError:
            raise ValueError(f"{value!r} has no {self.full_name} value") from None

    def from_proto(self, number: int, field: str) -> M:
        """The model value of `number`, read from the message field at path `field`."""
        if number == 0 and self.unspecified is not None:
            return self.unspecified
        value = self._to_model.get(number)
        if value is not None:
            return value
        if number == 0:
            why = f"must be set ({self.full_name} is unspecified)"
        else:
            why = f"{number} is not a {self.full_name} value this side knows"
        raise UnknownEnumValue(f"{field}: {why}", [FieldViolation(field, why)])


def matching_table(proto: type[P], model: type[E], unspecified: E | None = None) -> EnumTable[P, E]:
    """The table pairing `PREFIX_NAME` with the member of `model` whose value is `NAME`; every
    proto value but UNSPECIFIED and every model member must have its partner."""
    wrapper: Any = proto
    prefix = wrapper.DESCRIPTOR.values_by_number[0].name.removesuffix("UNSPECIFIED")
    table: dict[P, E] = {
        number: model(name.removeprefix(prefix)) for name, number in wrapper.items() if number
    }
    if set(table.values()) != set(model):
        raise ValueError(f"{wrapper.DESCRIPTOR.full_name} and {model.__name__} differ")
    return EnumTable(proto, table, unspecified)
