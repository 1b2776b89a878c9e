"""Agents: the registry of deployed agents and their versions, validated and stored before the
backend acts."""
