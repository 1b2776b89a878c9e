"""Selection, crossover and mutation, vectorised over a batch of individuals with numpy.

Sequences are permutations with repetition of job ids; every operator here keeps each row's
multiset of job ids unchanged (so every child still decodes to a complete schedule).
"""

from __future__ import annotations

import numpy as np


def tournament(fitness: np.ndarray, count: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of `count` winners of `size`-way tournaments (lower fitness wins)."""
    contestants = rng.integers(0, fitness.shape[0], size=(count, size))
    winners = np.argmin(fitness[contestants], axis=1)
    return contestants[np.arange(count), winners]


def pox(first: np.ndarray, second: np.ndarray, n_jobs: int, rng: np.random.Generator) -> np.ndarray:
    """Precedence-preserving order-based crossover, row by row: a random subset of jobs keeps
    its positions from `first`; the other positions take the remaining genes of `second` in
    their order there."""
    rows = first.shape[0]
    keep = rng.random((rows, n_jobs)) < 0.5
    row_index = np.arange(rows)[:, None]
    mask_first = keep[row_index, first]
    mask_second = ~keep[row_index, second]
    child = first.copy()
    # Per row the counts match (same multiset), so row-major boolean fills line up.
    child[~mask_first] = second[mask_second]
    return child


def uniform(first: np.ndarray, second: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    mask = rng.random(first.shape) < 0.5
    return np.where(mask, first, second)


def swap_mutation(seqs: np.ndarray, rate: float, rng: np.random.Generator) -> None:
    """In place: with probability `rate` per row, swap two random positions."""
    rows, n = seqs.shape
    if n < 2:
        return
    hit = np.flatnonzero(rng.random(rows) < rate)
    i = rng.integers(0, n, size=hit.size)
    j = rng.integers(0, n, size=hit.size)
    a = seqs[hit, i].copy()
    seqs[hit, i] = seqs[hit, j]
    seqs[hit, j] = a


def insert_mutation(seqs: np.ndarray, rate: float, rng: np.random.Generator) -> None:
    """In place: with probability `rate` per row, move one gene to another position."""
    rows, n = seqs.shape
    if n < 2:
        return
    hit = np.flatnonzero(rng.random(rows) < rate)
    sources = rng.integers(0, n, size=hit.size)
    targets = rng.integers(0, n, size=hit.size)
    for row, s, t in zip(hit.tolist(), sources.tolist(), targets.tolist(), strict=True):
        if s == t:
            continue
        gene = seqs[row, s]
        if s < t:
            seqs[row, s:t] = seqs[row, s + 1 : t + 1]
        else:
            seqs[row, t + 1 : s + 1] = seqs[row, t:s]
        seqs[row, t] = gene


def machine_mutation(
    assigns: np.ndarray,
    n_alts: np.ndarray,
    flexible: np.ndarray,
    rate: float,
    rng: np.random.Generator,
) -> None:
    """In place: each flexible operation's machine gene is redrawn with probability `rate`."""
    if flexible.size == 0:
        return
    rows = assigns.shape[0]
    hit = rng.random((rows, flexible.size)) < rate
    draws = np.floor(rng.random((rows, flexible.size)) * n_alts[flexible][None, :]).astype(np.int64)
    block = assigns[:, flexible]
    assigns[:, flexible] = np.where(hit, draws, block)
