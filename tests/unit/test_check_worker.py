"""The definition-checking process answers the old request (text, agents, wanted) and the one
that also carries the known workflow names, which it checks child workflows against."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

from controlplane.workflow.check_worker import HEADER

ROOT = Path(__file__).resolve().parents[2]
TEXT = "name: wf\ntasks: [{id: a, agent: echo}, {id: b, workflow: child}]\n"


def ask(*requests: tuple) -> list[tuple]:
    frames = b"".join(
        HEADER.pack(len(data)) + data for data in (pickle.dumps(request) for request in requests)
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "controlplane.workflow.check_worker"],
        input=frames,
        capture_output=True,
        check=True,
        env=env,
        timeout=120,
    )
    answers, out = [], done.stdout
    while out:
        (length,) = HEADER.unpack(out[: HEADER.size])
        answers.append(pickle.loads(out[HEADER.size : HEADER.size + length]))
        out = out[HEADER.size + length :]
    return answers


def test_known_workflows_are_checked_when_sent() -> None:
    old, unknown, known = ask(
        (TEXT, {"echo"}, True),
        (TEXT, {"echo"}, True, {"other"}),
        (TEXT, {"echo"}, False, {"child"}),
    )
    assert old[0] is not None and old[1] == []
    assert unknown[0] is None
    assert [(p.path, p.message) for p in unknown[1]] == [
        ("tasks[1].workflow", "unknown workflow 'child'")
    ]
    assert known == (None, [])
