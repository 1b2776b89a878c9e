"""Priority rules as `choose` callbacks for the serial SGS.

A rule is a key over candidates: the smallest key wins. Every key ends with the earliest start,
the operation's topological position and the machine, so ties break the same way every time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from scheduler.rules.sgs import Candidate, Choose, MachinePick, SgsState

Key = Callable[[Candidate], tuple[float, ...]]


def _tie(c: Candidate) -> tuple[float, ...]:
    return (c.start, c.topo_index, c.machine)


def fifo_key(c: Candidate) -> tuple[float, ...]:
    """First in, first out: earliest job release, then earliest ready time."""
    return (c.release, c.ready, *_tie(c))


def spt_key(c: Candidate) -> tuple[float, ...]:
    """Shortest processing time (on the chosen machine)."""
    return (c.duration, *_tie(c))


def lpt_key(c: Candidate) -> tuple[float, ...]:
    """Longest processing time."""
    return (-c.duration, *_tie(c))


def edf_key(c: Candidate) -> tuple[float, ...]:
    """Earliest due date; jobs without one come last, ordered by release then most work
    remaining (so a problem with no due dates at all falls back to FIFO/MWKR)."""
    return (c.due, c.release, -c.job_remaining_work, *_tie(c))


def mwkr_key(c: Candidate) -> tuple[float, ...]:
    """Most work remaining in the job (min durations of its unplaced ops, this one included)."""
    return (-c.job_remaining_work, *_tie(c))


def mor_key(c: Candidate) -> tuple[float, ...]:
    """Most operations remaining in the job."""
    return (-c.job_remaining_ops, -c.job_remaining_work, *_tie(c))


def wspt_key(c: Candidate) -> tuple[float, ...]:
    """Weighted shortest processing time (Smith's rule): largest weight / duration first."""
    ratio = c.weight / c.duration if c.duration > 0 else math.inf
    return (-ratio, *_tie(c))


def by_key(key: Key) -> Choose:
    """A `choose` callback that picks the candidate with the smallest key."""

    def choose(state: SgsState, candidates: Sequence[Candidate]) -> int:
        best, best_key = 0, key(candidates[0])
        for i in range(1, len(candidates)):
            k = key(candidates[i])
            if k < best_key:
                best, best_key = i, k
        return best

    return choose


def round_robin(num_machines: int) -> Choose:
    """Round-robin placement over candidates expanded per machine: the operation first in
    topological order goes to the next machine of the cycle among its alternatives."""
    pointer = 0
    cycle = max(1, num_machines)

    def choose(state: SgsState, candidates: Sequence[Candidate]) -> int:
        nonlocal pointer
        first = min(c.topo_index for c in candidates)
        options = [i for i, c in enumerate(candidates) if c.topo_index == first]
        pick = min(options, key=lambda i: ((candidates[i].machine - pointer) % cycle, i))
        pointer = (candidates[pick].machine + 1) % cycle
        return pick

    return choose


def round_robin_machines(num_machines: int) -> MachinePick:
    """`list_sgs` machine choice of round-robin: the next machine of the cycle that is
    eligible for the operation."""
    pointer = 0
    cycle = max(1, num_machines)

    def pick(op: int, options: Sequence[tuple[int, int, int]]) -> int:
        nonlocal pointer
        k = min(range(len(options)), key=lambda k: ((options[k][0] - pointer) % cycle, k))
        pointer = (options[k][0] + 1) % cycle
        return k

    return pick


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    # Makes a fresh `choose` (rules may keep state across steps) for a problem's machine count.
    make: Callable[[int], Choose]
    expand_machines: bool = False  # True: the rule also picks the machine


def _keyed(key: Key) -> Callable[[int], Choose]:
    return lambda _machines: by_key(key)


RULES: dict[str, Rule] = {
    "fifo": Rule("fifo", "earliest job release, then earliest ready time", _keyed(fifo_key)),
    "spt": Rule("spt", "shortest processing time", _keyed(spt_key)),
    "lpt": Rule("lpt", "longest processing time", _keyed(lpt_key)),
    "edf": Rule("edf", "earliest job due date", _keyed(edf_key)),
    "mwkr": Rule("mwkr", "most work remaining in the job", _keyed(mwkr_key)),
    "mor": Rule("mor", "most operations remaining in the job", _keyed(mor_key)),
    "wspt": Rule("wspt", "largest weight / processing time (Smith)", _keyed(wspt_key)),
    "rr": Rule("rr", "round-robin machine placement", round_robin, expand_machines=True),
}
