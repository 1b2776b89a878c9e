"""Makespan local search on the disjunctive graph: tabu search in the N5 neighbourhood.

A solution is one operation sequence per machine (machine genes fixed). Heads `r` (earliest
start) and tails `q` (longest path from an operation's end to the sink) are recomputed after
each move; candidate moves are swaps of the first or last two operations of critical blocks
(Nowicki & Smutnicki's N5), rated by the usual head/tail estimate of the longest path through
the swapped pair. The best move that is not tabu (or beats the best so far) is applied.

Everything here is deterministic given the `rng` passed in; the clock is only consulted
through `expired` to stop early.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from scheduler.ga.decode import Decoded, decode
from scheduler.ga.encoding import Compiled, encode_order, topological_rank


@dataclass
class TabuResult:
    makespan: int
    starts: list[int]  # heads of the best solution found
    iterations: int


class _Graph:
    """Machine sequences plus static precedence arcs, with heads and tails."""

    def __init__(self, cp: Compiled, decoded: Decoded) -> None:
        n = cp.n_ops
        self.n = n
        self.d = list(decoded.durations)
        self.preds = cp.preds
        self.succs = cp.succs
        # Machines are fixed here, so a machine's ready time is part of each op's release.
        self.release = [max(cp.release[o], cp.machine_ready[decoded.machines[o]]) for o in range(n)]
        by_machine: list[list[int]] = [[] for _ in range(cp.n_machines)]
        starts, rank = decoded.starts, topological_rank(cp)
        for o in sorted(range(n), key=lambda o: (starts[o], starts[o] + self.d[o], rank[o])):
            by_machine[decoded.machines[o]].append(o)
        self.mpred = [-1] * n
        self.msucc = [-1] * n
        for seq in by_machine:
            for a, b in itertools.pairwise(seq):
                self.msucc[a] = b
                self.mpred[b] = a
        self.r = [0] * n
        self.q = [0] * n
        self.topo: list[int] = []  # a topological order of the current graph
        self.pos = [0] * n  # index of every operation in `topo`

    def evaluate(self) -> int:
        """Recomputes heads and tails; returns the makespan, or -1 if the graph has a cycle."""
        n = self.n
        preds, succs, mpred, msucc, d = self.preds, self.succs, self.mpred, self.msucc, self.d
        indeg = [len(p) for p in preds]
        for o in range(n):
            if mpred[o] >= 0:
                indeg[o] += 1
        stack = [o for o in range(n) if indeg[o] == 0]
        order = []
        r = self.r
        release = self.release
        while stack:
            o = stack.pop()
            order.append(o)
            h = release[o]
            for p in preds[o]:
                e = r[p] + d[p]
                if e > h:
                    h = e
            p = mpred[o]
            if p >= 0:
                e = r[p] + d[p]
                if e > h:
                    h = e
            r[o] = h
            for s in succs[o]:
                indeg[s] -= 1
                if indeg[s] == 0:
                    stack.append(s)
            s = msucc[o]
            if s >= 0:
                indeg[s] -= 1
                if indeg[s] == 0:
                    stack.append(s)
        if len(order) < n:
            return -1
        self.topo = order
        pos = self.pos
        for i, o in enumerate(order):
            pos[o] = i
        q = self.q
        cmax = 0
        for o in reversed(order):
            t = 0
            for s in succs[o]:
                e = d[s] + q[s]
                if e > t:
                    t = e
            s = msucc[o]
            if s >= 0:
                e = d[s] + q[s]
                if e > t:
                    t = e
            q[o] = t
            total = r[o] + d[o] + t
            if total > cmax:
                cmax = total
        return cmax

    def move(self, u: int, v: int) -> int:
        """Swaps machine-adjacent u -> v and updates heads and tails incrementally; returns
        the new makespan, or -1 (and leaves the graph unchanged) if the swap makes a cycle.

        The topological order is repaired as in Pearce & Kelly's dynamic algorithm: only
        operations between u and v in the order move. Heads change only from u's old
        position on, tails only up to v's old position."""
        pos, topo = self.pos, self.topo
        lb, ub = pos[u], pos[v]
        self.swap(u, v)
        succs, preds, msucc, mpred = self.succs, self.preds, self.msucc, self.mpred
        # Forward from u (new graph) inside the window (lb, ub]: reaching v is a cycle.
        forward = [u]
        seen = {u}
        stack = [u]
        while stack:
            x = stack.pop()
            nxt = succs[x]
            m = msucc[x]
            for y in (*nxt, m) if m >= 0 else nxt:
                if y == v:
                    self.swap(v, u)
                    return -1
                if pos[y] < ub and y not in seen:
                    seen.add(y)
                    forward.append(y)
                    stack.append(y)
        backward = [v]
        seen_b = {v}
        stack = [v]
        while stack:
            x = stack.pop()
            prv = preds[x]
            m = mpred[x]
            for y in (*prv, m) if m >= 0 else prv:
                if pos[y] > lb and y not in seen_b:
                    seen_b.add(y)
                    backward.append(y)
                    stack.append(y)
        backward.sort(key=pos.__getitem__)
        forward.sort(key=pos.__getitem__)
        slots = sorted([pos[x] for x in backward] + [pos[x] for x in forward])
        for slot, x in zip(slots, backward + forward, strict=True):
            topo[slot] = x
            pos[x] = slot
        r, q, d, release = self.r, self.q, self.d, self.release
        cmax = 0
        for i in range(ub, -1, -1):
            o = topo[i]
            t = 0
            for s in succs[o]:
                e = d[s] + q[s]
                if e > t:
                    t = e
            s = msucc[o]
            if s >= 0:
                e = d[s] + q[s]
                if e > t:
                    t = e
            q[o] = t
            if i < lb:
                total = r[o] + d[o] + t
                if total > cmax:
                    cmax = total
        for i in range(lb, self.n):
            o = topo[i]
            h = release[o]
            for p in preds[o]:
                e = r[p] + d[p]
                if e > h:
                    h = e
            p = mpred[o]
            if p >= 0:
                e = r[p] + d[p]
                if e > h:
                    h = e
            r[o] = h
            total = h + d[o] + q[o]
            if total > cmax:
                cmax = total
        return cmax

    def critical_blocks(self, cmax: int) -> list[list[int]]:
        """Blocks (runs of machine-adjacent operations) along one critical path."""
        r, d, q = self.r, self.d, self.q
        end = -1
        for o in range(self.n):
            if r[o] + d[o] == cmax and q[o] == 0:
                end = o
                break
        path = [end]
        u = end
        while True:
            nxt = -1
            p = self.mpred[u]
            if p >= 0 and r[p] + d[p] == r[u]:
                nxt = p
            else:
                for p in self.preds[u]:
                    if r[p] + d[p] == r[u]:
                        nxt = p
                        break
            if nxt < 0:
                break
            path.append(nxt)
            u = nxt
        path.reverse()
        blocks: list[list[int]] = []
        current = [path[0]]
        for a, b in itertools.pairwise(path):
            if self.msucc[a] == b:
                current.append(b)
            else:
                blocks.append(current)
                current = [b]
        blocks.append(current)
        return blocks

    def estimate(self, u: int, v: int) -> int:
        """Longest path through u and v after swapping machine-adjacent u -> v."""
        r, d, q = self.r, self.d, self.q
        a = self.mpred[u]
        b = self.msucc[v]
        rv = self.release[v]
        for p in self.preds[v]:
            e = r[p] + d[p]
            if e > rv:
                rv = e
        if a >= 0 and r[a] + d[a] > rv:
            rv = r[a] + d[a]
        ru = self.release[u]
        for p in self.preds[u]:
            e = r[p] + d[p]
            if e > ru:
                ru = e
        if rv + d[v] > ru:
            ru = rv + d[v]
        qu = 0
        for s in self.succs[u]:
            e = d[s] + q[s]
            if e > qu:
                qu = e
        if b >= 0 and d[b] + q[b] > qu:
            qu = d[b] + q[b]
        qv = 0
        for s in self.succs[v]:
            e = d[s] + q[s]
            if e > qv:
                qv = e
        if qu + d[u] > qv:
            qv = qu + d[u]
        return max(rv + d[v] + qv, ru + d[u] + qu)

    def swap(self, u: int, v: int) -> None:
        """u directly before v on a machine -> v directly before u."""
        a = self.mpred[u]
        b = self.msucc[v]
        if a >= 0:
            self.msucc[a] = v
        if b >= 0:
            self.mpred[b] = u
        self.mpred[v] = a
        self.msucc[v] = u
        self.mpred[u] = v
        self.msucc[u] = b


def tabu_search(
    cp: Compiled,
    decoded: Decoded,
    iterations: int,
    rng: np.random.Generator,
    expired: Callable[[], bool] | None = None,
    max_stall: int | None = None,
    tenure: int | None = None,
) -> TabuResult:
    """N5 tabu search from a decoded schedule; returns the best heads found."""
    g = _Graph(cp, decoded)
    cmax = g.evaluate()
    if cmax < 0:  # cannot happen for a feasible schedule; be safe
        return TabuResult(int(decoded.objective) + 1, list(decoded.starts), 0)
    best = cmax
    best_starts = list(g.r)
    tabu: dict[tuple[int, int], int] = {}
    n_machines = max(1, cp.n_machines)
    base_tenure = tenure or 2 + max(1, cp.n_ops // n_machines) // 2
    stall = 0
    max_stall = max_stall or iterations
    it = 0
    for it in range(1, iterations + 1):
        if expired is not None and it % 64 == 0 and expired():
            break
        blocks = g.critical_blocks(cmax)
        moves: list[tuple[int, int]] = []
        last = len(blocks) - 1
        for i, block in enumerate(blocks):
            if len(block) < 2:
                continue
            first = (block[0], block[1])
            if i > 0 or g.r[block[0]] > 0:
                moves.append(first)
            second = (block[-2], block[-1])
            if (i < last or g.q[block[-1]] > 0) and (second != first or i == 0):
                moves.append(second)
        if not moves:
            break  # a single block: the makespan equals a lower bound
        chosen = None
        chosen_value = 0
        for u, v in moves:
            if u in g.preds[v]:
                continue  # a precedence arc, not a machine choice
            value = g.estimate(u, v)
            is_tabu = tabu.get((v, u), 0) > it
            if is_tabu and value >= best:
                continue
            if chosen is None or value < chosen_value:
                chosen, chosen_value = (u, v), value
        if chosen is None:
            # Everything tabu: take the move whose tabu status ends first.
            candidates = [
                (tabu.get((v, u), 0), k) for k, (u, v) in enumerate(moves) if u not in g.preds[v]
            ]
            if not candidates:
                break
            chosen = moves[min(candidates)[1]]
        u, v = chosen
        new = g.move(u, v)
        if new < 0:  # cycle (zero durations): the graph is unchanged; forbid the move
            tabu[(v, u)] = it + 10 * base_tenure
            continue
        cmax = new
        tabu[(u, v)] = it + base_tenure + int(rng.integers(0, base_tenure + 1))
        if cmax < best:
            best = cmax
            best_starts = list(g.r)
            stall = 0
        else:
            stall += 1
            if stall >= max_stall:
                break
    return TabuResult(best, best_starts, it)


def improve(
    cp: Compiled,
    seq: np.ndarray,
    assign: np.ndarray,
    decoded: Decoded,
    iterations: int,
    rng: np.random.Generator,
    expired: Callable[[], bool] | None = None,
    max_stall: int | None = None,
    rounds: int = 3,
    tenure: int | None = None,
) -> tuple[np.ndarray, np.ndarray, Decoded]:
    """Tabu search on a chromosome, written back as a sequence ordered by start times.
    For flexible problems the machines are then re-chosen greedily (earliest completion) on
    the improved sequence, and while that helps, the tabu search runs again (up to `rounds`).
    Never returns a worse individual than the one given."""
    best_seq, best_assign, best = seq, assign, decoded
    for _ in range(rounds):
        result = tabu_search(cp, best, iterations, rng, expired, max_stall, tenure)
        if result.makespan < best.objective:
            new_seq = encode_order(cp, result.starts)
            new_decoded = decode(cp, new_seq, best_assign)
            if new_decoded.objective <= best.objective:
                best_seq, best = new_seq, new_decoded
        if not cp.flexible.size or (expired is not None and expired()):
            break
        greedy_assign = best_assign.copy()
        greedy = decode(cp, best_seq, greedy_assign, greedy=True)
        if greedy.objective >= best.objective:
            break
        best_assign, best = greedy_assign, greedy
    return best_seq, best_assign, best
