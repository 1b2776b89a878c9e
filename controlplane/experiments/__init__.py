"""Scheduling experiments: a grid of (instance, scheduler) runs, their records and figures.

`grid.run_one` is one run as a plain function; `grid.run_local` runs a grid in worker
processes and `grid.run_ray` as Ray tasks (through `ray_backend.experiments`); `results`
writes results.json/results.csv and summarises gaps; `plots` draws the PNG figures.
"""
