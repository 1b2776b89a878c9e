"""Workflow definitions: parsing, validation, references, durations and input checking."""

from controlplane.workflow.definition import (
    DefinitionError,
    definition_digest,
    parse_workflow,
    topological_order,
    validate_workflow,
)
from controlplane.workflow.inputs import INPUT_TYPES, check_inputs, json_type_name, matches_type
from controlplane.workflow.references import (
    Reference,
    ReferenceResolutionError,
    ReferenceSyntaxError,
    find_reference_problems,
    find_references,
    parse_reference,
    parse_template,
    resolve,
)
from models.durations import parse_duration

__all__ = [
    "INPUT_TYPES",
    "DefinitionError",
    "Reference",
    "ReferenceResolutionError",
    "ReferenceSyntaxError",
    "check_inputs",
    "definition_digest",
    "find_reference_problems",
    "find_references",
    "json_type_name",
    "matches_type",
    "parse_duration",
    "parse_reference",
    "parse_template",
    "parse_workflow",
    "resolve",
    "topological_order",
    "validate_workflow",
]
