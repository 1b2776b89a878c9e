"""Lifecycles as explicit transition tables: which state may follow which.

Each lifecycle names the record field that holds the state, so a change of state reads the same
everywhere: ``LIFECYCLE.move(record, target)`` for records changed in place,
``LIFECYCLE.replaced(record, target, **changes)`` for frozen ones. Both check the table first
and raise ``InvalidTransition`` (a ``FailedPrecondition``: the API maps it like any other).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from models.errors import FailedPrecondition

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

S = TypeVar("S", bound=enum.Enum)
R = TypeVar("R", bound="DataclassInstance")


class InvalidTransition(FailedPrecondition):
    """A change of state the lifecycle's transition table does not allow."""

    def __init__(self, kind: str, current: enum.Enum, target: enum.Enum) -> None:
        super().__init__(f"{kind} cannot go from {current.value} to {target.value}")
        self.kind = kind
        self.current = current
        self.target = target


@dataclass(frozen=True)
class Lifecycle(Generic[S]):
    """The states of one kind of record and, for each, the states that may follow it.

    A state that is not listed among its own successors cannot be "changed" to itself: the
    tables say so explicitly where a record is rewritten in the same state (a new message,
    a retry count)."""

    kind: str  # what the records are ("task", "reservation"), for error messages
    states: type[S]
    transitions: Mapping[S, frozenset[S]]
    field: str = "status"  # the record attribute holding the state

    def __post_init__(self) -> None:
        missing = set(self.states) - set(self.transitions)
        if missing:
            names = ", ".join(sorted(s.value for s in missing))
            raise ValueError(f"{self.kind} lifecycle has no row for {names}")
        strangers = {t for targets in self.transitions.values() for t in targets} - set(self.states)
        if strangers or set(self.transitions) - set(self.states):
            raise ValueError(f"{self.kind} lifecycle names states of another kind")

    def allows(self, current: S, target: S) -> bool:
        return target in self.transitions[current]

    def check(self, current: S, target: S) -> None:
        if not self.allows(current, target):
            raise InvalidTransition(self.kind, current, target)

    def is_terminal(self, state: S) -> bool:
        """True when nothing may follow ``state``."""
        return not self.transitions[state]

    def move(self, record: Any, target: S) -> None:
        """Changes the state of a mutable record in place, after checking the table."""
        self.check(getattr(record, self.field), target)
        setattr(record, self.field, target)

    def replaced(self, record: R, target: S, **changes: Any) -> R:
        """A copy of ``record`` in state ``target`` (with ``changes``), after checking."""
        self.check(getattr(record, self.field), target)
        return dataclasses.replace(record, **{self.field: target}, **changes)
