"""Executions: the workflow catalog and the durable execution state machine (start, run, cancel,
watch)."""
