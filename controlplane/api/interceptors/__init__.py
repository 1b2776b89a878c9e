"""Server interceptors: audit, authentication and per-caller limits, each a `CallAround`
applied to every RPC's handler by `wrapping.AroundInterceptor`."""
