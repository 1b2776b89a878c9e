"""Problem loaders (standard text formats, JSON) and seeded generators."""

from scheduler.instances.bounds import KnownBound, load_bounds
from scheduler.instances.generators import random_dag, random_fjsp, random_jobshop
from scheduler.instances.json_io import problem_from_json, problem_to_json
from scheduler.instances.text_formats import load_instance, parse_fjsp, parse_jobshop

__all__ = [
    "KnownBound",
    "load_bounds",
    "load_instance",
    "parse_fjsp",
    "parse_jobshop",
    "problem_from_json",
    "problem_to_json",
    "random_dag",
    "random_fjsp",
    "random_jobshop",
]
