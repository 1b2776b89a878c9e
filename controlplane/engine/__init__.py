"""The engine: agents, workflow catalog and the durable execution state machine."""
