"""Consistent hashing with bounded loads (Mirrokni, Thorup and Zadimoghaddam, 2018).

Each member owns ``POINTS_PER_MEMBER`` points on a 64-bit ring; a key goes to the first member
clockwise from its own point whose load is under ``ceil(load_factor x (total + 1) / members)``.
A key keeps its member while that member is under the bound, so one hot key spills over to
the next members instead of piling onto one. Adding or removing a member moves only the keys
next to its points. Pure and deterministic (blake2b, not Python's salted ``hash``).
"""

from __future__ import annotations

import bisect
import hashlib
import math
from collections.abc import Callable, Iterable, Iterator, Mapping

POINTS_PER_MEMBER = 64


def ring_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


class HashRing:
    def __init__(self, members: Iterable[str], points_per_member: int = POINTS_PER_MEMBER) -> None:
        self.members = tuple(sorted(set(members)))
        points = sorted(
            (ring_hash(f"{member}#{i}"), member)
            for member in self.members
            for i in range(points_per_member)
        )
        self._hashes = [h for h, _ in points]
        self._owners = [m for _, m in points]

    def walk(self, key: str) -> Iterator[str]:
        """Every member once, clockwise from the key's point."""
        if not self._hashes:
            return
        start = bisect.bisect_left(self._hashes, ring_hash(key))
        seen: set[str] = set()
        count = len(self._hashes)
        for step in range(count):
            owner = self._owners[(start + step) % count]
            if owner not in seen:
                seen.add(owner)
                yield owner
                if len(seen) == len(self.members):
                    return

    def owner(self, key: str) -> str | None:
        """The member the key maps to with no load bound."""
        return next(self.walk(key), None)


def load_bound(total_load: int, members: int, load_factor: float) -> int:
    """The most attempts one member may hold once the new one is placed."""
    return max(1, math.ceil(load_factor * (total_load + 1) / max(members, 1)))


def bounded_choice(
    ring: HashRing,
    key: str,
    loads: Mapping[str, int],
    load_factor: float,
    eligible: Callable[[str], bool] = lambda _: True,
) -> str | None:
    """The first member clockwise from `key` that is eligible and under the load bound."""
    bound = load_bound(sum(loads.get(m, 0) for m in ring.members), len(ring.members), load_factor)
    for member in ring.walk(key):
        if eligible(member) and loads.get(member, 0) < bound:
            return member
    return None
