"""The engine: one sub-package per job (agents, executions, dispatch, planning, capacity, scaling);
no gRPC and no ray."""
