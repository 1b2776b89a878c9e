"""gRPC servicers: decode the request, call the engine, encode the response."""
