"""Memetic genetic algorithm for job shop, flexible job shop and DAG scheduling problems."""

from scheduler.ga.solver import solve_ga

__all__ = ["solve_ga"]
