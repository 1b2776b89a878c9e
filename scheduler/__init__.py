"""Pure decision code: schedulers over one problem model (no Ray, gRPC or I/O in a solver)."""

from scheduler.registry import names, solve

__all__ = ["names", "solve"]
