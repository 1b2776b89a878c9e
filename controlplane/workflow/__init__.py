"""Workflow definitions: parsing, validation, references, conditions, durations and input
checking."""

from controlplane.workflow.conditions import (
    ConditionError,
    condition_problems,
    evaluate_condition,
)
from controlplane.workflow.definition import (
    DefinitionError,
    definition_digest,
    finally_order,
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
    "ConditionError",
    "DefinitionError",
    "Reference",
    "ReferenceResolutionError",
    "ReferenceSyntaxError",
    "check_inputs",
    "condition_problems",
    "definition_digest",
    "evaluate_condition",
    "finally_order",
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
