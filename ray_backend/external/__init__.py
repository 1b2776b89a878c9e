"""External agents: proxy agent classes that replicas load to call an HTTP or gRPC service."""
