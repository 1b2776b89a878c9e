"""A CP-SAT placement policy over a short window of arrivals (receding horizon).

For the arriving pod and the next `lookahead` pods, the `top_k` choices with the smallest
fragmentation increase (FGD's measure) are candidates. One small CP-SAT model picks at most one
choice per pod such that, jointly, no node's CPU, memory or GPU slot is overcommitted, placing
as much GPU demand as possible and then adding as little fragmentation as possible. Only the
arriving pod's choice is committed; the window slides on with the next arrival.

Build / solve / extract are separate; the solver runs single-threaded with a seed and a
deterministic time limit, so replays are reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ortools.sat.python import cp_model

from models.placement import GPU_MILLI, Pod
from scheduler.placement.policies import Fgd, Option
from scheduler.placement.state import ClusterState, Decision

PLACE_WEIGHT = 1000  # per milli-GPU placed: dominates any fragmentation change (<= 8000)


@dataclass
class WindowModel:
    model: cp_model.CpModel
    choices: list[list[cp_model.IntVar]]  # per pod in the window, one literal per option


def build(
    state: ClusterState, window: Sequence[Pod], options: Sequence[Sequence[Option]]
) -> WindowModel:
    model = cp_model.CpModel()
    choices: list[list[cp_model.IntVar]] = []
    cpu: dict[int, list[tuple[int, cp_model.IntVar]]] = {}
    mem: dict[int, list[tuple[int, cp_model.IntVar]]] = {}
    gpu: dict[tuple[int, int], list[tuple[int, cp_model.IntVar]]] = {}
    objective = []
    for i, (pod, opts) in enumerate(zip(window, options, strict=True)):
        lits = [model.new_bool_var(f"x_{i}_{o}") for o in range(len(opts))]
        choices.append(lits)
        if i == 0:
            model.add_exactly_one(lits)
        else:
            model.add_at_most_one(lits)
        share = pod.gpu_milli if pod.shares_gpu else GPU_MILLI
        gain = PLACE_WEIGHT * (pod.gpu_request_milli + 1)
        for opt, lit in zip(opts, lits, strict=True):
            n = opt.decision.node
            cpu.setdefault(n, []).append((pod.cpu_milli, lit))
            mem.setdefault(n, []).append((pod.memory_mib, lit))
            for g in opt.decision.gpus:
                gpu.setdefault((n, g), []).append((share, lit))
            objective.append((gain - round(opt.delta), lit))
    for n, terms in cpu.items():
        if len(terms) > 1:
            model.add(sum(c * lit for c, lit in terms) <= int(state.cpu_free[n]))
    for n, terms in mem.items():
        if len(terms) > 1:
            model.add(sum(c * lit for c, lit in terms) <= int(state.mem_free[n]))
    for (n, g), terms in gpu.items():
        if len(terms) > 1:
            model.add(sum(c * lit for c, lit in terms) <= int(state.gpu_free[n, g]))
    model.maximize(sum(w * lit for w, lit in objective))
    return WindowModel(model, choices)


def solve(built: WindowModel, seed: int, deterministic_time: float) -> cp_model.CpSolver | None:
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = seed
    solver.parameters.max_deterministic_time = deterministic_time
    status = solver.solve(built.model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return solver


def extract(built: WindowModel, solver: cp_model.CpSolver) -> int | None:
    """Index of the option chosen for the arriving pod."""
    for o, lit in enumerate(built.choices[0]):
        if solver.boolean_value(lit):
            return o
    return None


class CpSatWindow:
    name = "cpsat"

    def __init__(
        self,
        fgd: Fgd,
        seed: int = 0,
        # Chosen on replay seeds 5-9 (3/6, 5/6, 3/10, 5/10 tried; 5/10 had the best worst seed);
        # seeds 0-4 are the ones reported.
        lookahead: int = 5,
        top_k: int = 10,
        deterministic_time: float = 0.5,
    ) -> None:
        self.fgd = fgd
        self.seed = seed
        self.lookahead = lookahead
        self.top_k = top_k
        self.deterministic_time = deterministic_time
        self.solves = 0

    def place(self, state: ClusterState, pod: Pod, upcoming: Sequence[Pod] = ()) -> Decision | None:
        first = self.fgd.best(state, pod, self.top_k)
        if not first:
            return None
        window = [pod]
        options = [first]
        for other in upcoming[: self.lookahead]:
            opts = self.fgd.best(state, other, self.top_k)
            if opts:
                window.append(other)
                options.append(opts)
        mine = {o.decision.node for o in first}
        if not any(o.decision.node in mine for opts in options[1:] for o in opts):
            return first[0].decision  # no interaction: the model would pick FGD's choice
        built = build(state, window, options)
        self.solves += 1
        solver = solve(built, self.seed, self.deterministic_time)
        chosen = None if solver is None else extract(built, solver)
        return first[0 if chosen is None else chosen].decision
