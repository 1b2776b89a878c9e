"""Commands that talk to a running control plane over gRPC."""
