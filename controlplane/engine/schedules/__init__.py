"""Schedules: workflows started at the times of a cron expression in a time zone, each time
exactly once (the manager serves the API, the loop fires; `firing` decides, purely)."""
