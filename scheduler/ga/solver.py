"""Memetic genetic algorithm: `solve_ga(problem, ctx) -> Schedule`.

Population of (sequence, machine genes) chromosomes decoded to active schedules; tournament
selection, POX crossover on sequences, uniform crossover on machine genes, swap/insert and
machine-reassignment mutation, (mu + lambda) survival with elitism and duplicate removal,
and for makespan problems an N5 tabu search applied to the best new children of every
generation before they compete for survival (results written back into their chromosomes).

Options (`ctx.config.options`), all optional:
    population        individuals (default scales with size, 16..40)
    elite             individuals always kept (default population // 5)
    tournament        tournament size (2)
    crossover_rate    probability a child is a crossover (0.9)
    mutation_rate     probability of a swap and of an insert mutation per child (0.3 each)
    machine_mutation_rate  per flexible operation (1 / flexible operations, at least 0.02)
    greedy_rate       share of flexible children decoded with earliest-completion machine
                      choice, written back into their machine genes (0.2; half at start)
    generations       fixed generation budget (reproducible runs); default unlimited
    patience          stop after this many generations without improvement (default 100)
    restart_after     generations without improvement before all but the elite are
                      replaced by random immigrants (patience // 3)
    local_search      apply tabu search to elites when the objective is makespan (True)
    ls_count          children polished per generation (1)
    ls_iterations     tabu iterations per polish (2000 + 5 * operations)
    tabu_tenure       minimum tabu tenure; the actual one is drawn in [t, 2t]
                      (2 + operations / machines / 2)
    ls_stall          stop a polish after this many non-improving iterations (500 + 2 * ops)

Deterministic for a given seed and generation budget: the clock only decides when to stop.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models.scheduling import (
    Objective,
    Schedule,
    ScheduledOperation,
    SchedulingProblem,
    SolveStatus,
)
from scheduler.context import SolveContext
from scheduler.ga.decode import Decoded, decode
from scheduler.ga.encoding import Compiled, compile_problem, random_population
from scheduler.ga.local_search import improve
from scheduler.ga.operators import (
    insert_mutation,
    machine_mutation,
    pox,
    swap_mutation,
    tournament,
    uniform,
)
from scheduler.objective import objective_value

NAME = "ga"


def makespan_lower_bound(cp: Compiled) -> int:
    """Longest release + chain of minimum durations, and the load of every machine (after its
    ready time) from operations that have no alternative."""
    min_d = [min(ds) for ds in cp.alt_durations]
    head = [0] * cp.n_ops
    indeg = [len(p) for p in cp.preds]
    stack = [o for o in range(cp.n_ops) if indeg[o] == 0]
    bound = 0
    while stack:
        o = stack.pop()
        h = max(cp.release[o], min(cp.machine_ready[m] for m in cp.alt_machines[o]))
        for p in cp.preds[o]:
            h = max(h, head[p] + min_d[p])
        head[o] = h
        bound = max(bound, h + min_d[o])
        for s in cp.succs[o]:
            indeg[s] -= 1
            if indeg[s] == 0:
                stack.append(s)
    load = [0] * cp.n_machines
    for o in range(cp.n_ops):
        if len(cp.alt_machines[o]) == 1:
            load[cp.alt_machines[o][0]] += cp.alt_durations[o][0]
    loaded = [cp.machine_ready[m] + work for m, work in enumerate(load) if work > 0]
    return max([bound, *loaded])


class _Population:
    def __init__(self, seqs: np.ndarray, assigns: np.ndarray, decoded: list[Decoded]) -> None:
        self.seqs = seqs
        self.assigns = assigns
        self.decoded = decoded
        self.polished = [False] * len(decoded)

    @property
    def fitness(self) -> np.ndarray:
        return np.array([d.objective for d in self.decoded], dtype=float)


def _key(decoded: Decoded) -> tuple[float, int]:
    return decoded.objective, hash((tuple(decoded.starts), tuple(decoded.machines)))


def solve_ga(problem: SchedulingProblem, ctx: SolveContext) -> Schedule:
    cp = compile_problem(problem)
    opts: dict[str, Any] = ctx.config.options
    rng = np.random.default_rng(ctx.config.seed)
    n = cp.n_ops
    if n == 0:
        return Schedule(problem.name, NAME, (), 0.0, SolveStatus.HEURISTIC, info={})

    size = int(opts.get("population", min(40, max(16, n // 8))))
    elite = max(1, min(size - 1, int(opts.get("elite", max(1, size // 5)))))
    tour = int(opts.get("tournament", 2))
    pc = float(opts.get("crossover_rate", 0.9))
    pm = float(opts.get("mutation_rate", 0.3))
    flex = max(1, int(cp.flexible.size))
    pmm = float(opts.get("machine_mutation_rate", max(0.02, 1.0 / flex)))
    greedy_rate = float(opts.get("greedy_rate", 0.2))
    generations = opts.get("generations")
    patience = int(opts.get("patience", 100))
    restart_after = max(1, int(opts.get("restart_after", max(1, patience // 3))))
    use_ls = (
        bool(opts.get("local_search", True))
        and problem.objective is Objective.MAKESPAN
        and not cp.has_resources
        and cp.exact_reencode
    )
    ls_count = int(opts.get("ls_count", 1))
    ls_iterations = int(opts.get("ls_iterations", 2000 + 5 * n))
    ls_stall = int(opts.get("ls_stall", 500 + 2 * n))
    tenure = int(opts["tabu_tenure"]) if "tabu_tenure" in opts else None
    lower = makespan_lower_bound(cp) if problem.objective is Objective.MAKESPAN else None

    evaluations = 0
    ls_runs = 0

    def decode_all(seqs: np.ndarray, assigns: np.ndarray, greedy_rate: float) -> list[Decoded]:
        nonlocal evaluations
        rows = seqs.shape[0]
        evaluations += rows
        greedy = [False] * rows
        if cp.flexible.size and not cp.has_resources:
            greedy = [float(x) < greedy_rate for x in rng.random((rows,))]
        return [decode(cp, seqs[i], assigns[i], greedy[i]) for i in range(rows)]

    seqs, assigns = random_population(cp, size, rng)
    pop = _Population(seqs, assigns, decode_all(seqs, assigns, 0.5))

    def polish(p: _Population, skip: set[tuple[float, int]]) -> None:
        """Tabu search on the `ls_count` best distinct, not yet polished individuals whose
        schedules are not in `skip`."""
        nonlocal ls_runs, evaluations
        if not use_ls:
            return
        order = np.argsort(p.fitness, kind="stable")
        done = 0
        skip = set(skip)
        for i in order.tolist():
            if done >= ls_count or ctx.expired():
                break
            key = _key(p.decoded[i])
            if p.polished[i] or key in skip:
                continue
            skip.add(key)
            new_seq, new_assign, new_dec = improve(
                cp,
                p.seqs[i],
                p.assigns[i],
                p.decoded[i],
                ls_iterations,
                rng,
                ctx.expired,
                ls_stall,
                tenure=tenure,
            )
            evaluations += 1
            ls_runs += 1
            p.seqs[i] = new_seq
            p.assigns[i] = new_assign
            p.decoded[i] = new_dec
            p.polished[i] = True
            done += 1

    polish(pop, set())
    best_i = int(np.argmin(pop.fitness))
    best_value = pop.decoded[best_i].objective
    best = (pop.seqs[best_i].copy(), pop.assigns[best_i].copy(), pop.decoded[best_i])
    ctx.report(best_value)
    history: list[tuple[int, float]] = [(0, best_value)]
    generation = 0
    since_improvement = 0
    stop = "time_limit"
    while True:
        if lower is not None and best_value <= lower:
            stop = "lower_bound"
            break
        if generations is not None and generation >= int(generations):
            stop = "generations"
            break
        if since_improvement >= patience:
            stop = "converged"
            break
        if ctx.expired():
            stop = "time_limit"
            break
        generation += 1
        n_children = size - elite
        fitness = pop.fitness
        parents = tournament(fitness, 2 * n_children, tour, rng)
        first, second = parents[:n_children], parents[n_children:]
        child_seqs = pop.seqs[first].copy()
        child_assigns = pop.assigns[first].copy()
        cross = rng.random(n_children) < pc
        if cross.any():
            rows = np.flatnonzero(cross)
            child_seqs[rows] = pox(pop.seqs[first[rows]], pop.seqs[second[rows]], cp.n_jobs, rng)
            if cp.flexible.size:
                child_assigns[rows] = uniform(
                    pop.assigns[first[rows]], pop.assigns[second[rows]], rng
                )
        swap_mutation(child_seqs, pm, rng)
        insert_mutation(child_seqs, pm, rng)
        machine_mutation(child_assigns, cp.n_alts, cp.flexible, pmm, rng)
        children = _Population(
            child_seqs, child_assigns, decode_all(child_seqs, child_assigns, greedy_rate)
        )
        polish(children, {_key(d) for d in pop.decoded})
        pop = _survivors(pop, children, size)
        if since_improvement and since_improvement % restart_after == 0:
            # Stagnation: keep the elite, replace the rest by random immigrants.
            keep = np.argsort(pop.fitness, kind="stable")[:elite]
            kept_polished = [pop.polished[i] for i in keep.tolist()]
            pop = _Population(pop.seqs[keep], pop.assigns[keep], [pop.decoded[i] for i in keep])
            pop.polished = kept_polished
        if len(pop.decoded) < size:  # too few distinct schedules: random immigrants
            extra_seqs, extra_assigns = random_population(cp, size - len(pop.decoded), rng)
            extra = _Population(
                extra_seqs, extra_assigns, decode_all(extra_seqs, extra_assigns, 0.5)
            )
            pop = _Population(
                np.concatenate([pop.seqs, extra.seqs]),
                np.concatenate([pop.assigns, extra.assigns]),
                pop.decoded + extra.decoded,
            )
            pop.polished = pop.polished[: len(pop.decoded) - len(extra.decoded)] + extra.polished
        i = int(np.argmin(pop.fitness))
        value = pop.decoded[i].objective
        if value < best_value:
            best_value = value
            best = (pop.seqs[i].copy(), pop.assigns[i].copy(), pop.decoded[i])
            ctx.report(best_value)
            history.append((generation, best_value))
            since_improvement = 0
        else:
            since_improvement += 1

    _, _, decoded = best
    placed = tuple(
        ScheduledOperation(
            o, decoded.machines[o], decoded.starts[o], decoded.starts[o] + decoded.durations[o]
        )
        for o in range(n)
    )
    return Schedule(
        problem=problem.name,
        solver=NAME,
        operations=placed,
        objective_value=objective_value(problem, placed),
        status=SolveStatus.HEURISTIC,
        bound=float(lower) if lower is not None else None,
        info={
            "generations": generation,
            "evaluations": evaluations,
            "local_search_runs": ls_runs,
            "population": size,
            "stop": stop,
            "best_by_generation": history[-50:],
        },
    )


def _survivors(old: _Population, children: _Population, size: int) -> _Population:
    """(mu + lambda) with duplicate removal: the best distinct schedules among parents and
    children survive (so the best parents, the elite, are always kept)."""
    seqs = np.concatenate([old.seqs, children.seqs])
    assigns = np.concatenate([old.assigns, children.assigns])
    decoded = old.decoded + children.decoded
    polished = old.polished + children.polished
    order = sorted(range(len(decoded)), key=lambda i: (decoded[i].objective, i))
    chosen: list[int] = []
    seen: set[tuple[float, int]] = set()
    for i in order:
        k = _key(decoded[i])
        if k in seen:
            continue
        seen.add(k)
        chosen.append(i)
        if len(chosen) == size:
            break
    idx = np.array(chosen)
    out = _Population(seqs[idx], assigns[idx], [decoded[i] for i in chosen])
    out.polished = [polished[i] for i in chosen]
    return out
