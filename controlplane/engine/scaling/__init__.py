"""Scaling: per-agent scaling policies, load history recording, forecasts and the loop that decides
and actuates replicas."""
