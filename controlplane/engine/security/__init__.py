"""Who may call: API keys, certificate subjects' role bindings, namespace policies."""
