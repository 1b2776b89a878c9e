"""A status fits the trailers every client accepts (8 KiB of metadata) whatever the error
echoes: long and non-ASCII messages, fields and descriptions, hundreds of violations."""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest
from google.rpc import error_details_pb2, status_pb2

from controlplane.api.status import MAX_MESSAGE_BYTES, fit, to_status
from models.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    OrchestratorError,
    ResourceExhausted,
)

CLIENT_METADATA_BYTES = 8192
HOSTILE = ("x" * 100_000, "é☃𝄞" * 20_000, "\x00" * 10_000, "\u202e" * 5_000, "%" * 9_000)


def _trailer_bytes(error: OrchestratorError) -> tuple[int, status_pb2.Status]:
    status = to_status(error)
    details = dict(status.trailing_metadata)["grpc-status-details-bin"]
    # grpc-message is percent-encoded outside printable ASCII (and '%' itself).
    message = quote(
        status.details.encode(), safe=bytes(range(0x20, 0x7F)).decode().replace("%", "")
    )
    decoded = status_pb2.Status.FromString(details)
    return len(message) + len(base64.b64encode(details)), decoded


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: repr(t[:3]))
@pytest.mark.parametrize("kind", [NotFound, InvalidArgument, FailedPrecondition, ResourceExhausted])
def test_a_status_fits_the_trailers(text: str, kind: type[OrchestratorError]) -> None:
    violations = [FieldViolation(f"{text}[{i}]", text) for i in range(300)]
    size, status = _trailer_bytes(kind(f"thing {text!r} not found", violations))
    assert size < CLIENT_METADATA_BYTES - 1024  # room for the other headers
    bad_request = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad_request)
    shown = bad_request.field_violations
    assert 1 <= len(shown) <= 21
    assert shown[-1].description.endswith("more problems not shown")
    total = int(shown[-1].description.split()[0]) + len(shown) - 1
    assert total == 300  # every violation is shown or counted


def test_a_text_is_cut_on_a_character_boundary_saying_how_long_it_was() -> None:
    cut = fit("é" * 1000, 101)
    assert len(cut.encode()) <= 101
    assert cut.endswith("... (1000 characters)")
    assert fit("short", MAX_MESSAGE_BYTES) == "short"
    assert fit("\ud800 lone", 100) == "\\ud800 lone"  # still UTF-8
