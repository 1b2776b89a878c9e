"""The `orchestrator` command line: `client` (commands over the gRPC API), `server` (serve and
demo), `research` (offline tools); `parser` builds the command tree, `main` runs a command."""

import os

# gRPC core logs an INFO line each time Ray forks a process while gRPC threads run
# ("skipping fork() handlers"); keep the CLI's stderr to real problems unless asked.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
