"""The `orchestrator` command line: serve, demo, and client commands over the gRPC API."""

import os

# gRPC core logs an INFO line each time Ray forks a process while gRPC threads run
# ("skipping fork() handlers"); keep the CLI's stderr to real problems unless asked.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
