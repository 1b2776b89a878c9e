"""CP-SAT scheduler: interval model (build), solve with a warm start and progress, extract."""

from scheduler.cpsat.model import CpsatModel, build_model
from scheduler.cpsat.solver import NoSolutionFound, solve_cpsat, solve_model

__all__ = ["CpsatModel", "NoSolutionFound", "build_model", "solve_cpsat", "solve_model"]
