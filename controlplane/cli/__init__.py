"""The `orchestrator` command line: serve, demo, and client commands over the gRPC API."""
