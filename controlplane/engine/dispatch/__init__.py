"""Dispatch: the queue system between "ready" and "dispatched" (fair share, quotas, placement,
preemption) and the loop that refreshes its view of the cluster."""
