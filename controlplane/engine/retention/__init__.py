"""Retention: finished executions (with everything that belongs to them) and audit events
deleted once older than their namespace's retention, in small transactions (`decide` says
what is due, purely; the loop deletes it)."""
