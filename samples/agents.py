"""Sample agents used by the demo, the benchmarks and the tests.

Plain Python classes (no ray import): the Ray backend imports them inside replica actors from an
import path such as ``"samples.agents:CodeGenAgent"``. Each class takes its config as keyword
arguments and implements ``execute(input, context) -> dict`` (sync or async) and optionally
``health() -> dict``. Outputs are deterministic functions of the input (and the attempt number),
so a recovered run produces exactly what an uninterrupted one would.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from typing import Any


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {"value": value}


class CodeGenAgent:
    """Pretends to generate code: returns a fake artifact derived from ``kind`` and ``spec``."""

    def __init__(self, delay_s: float = 0.0, language: str = "python", **config: Any) -> None:
        self.delay_s = float(delay_s)
        self.language = language
        self.config = config

    def execute(self, input: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        data = _as_dict(input)
        if self.delay_s > 0:
            time.sleep(self.delay_s)
        kind = str(data.get("kind", "module"))
        spec = str(data.get("spec", ""))
        digest = hashlib.sha256(f"{kind}:{spec}".encode()).hexdigest()[:8]
        files = [f"{kind}_{digest}.py", f"test_{kind}_{digest}.py"]
        return {
            "artifact": f"{kind}:{spec}",
            "files": files,
            "lines": 10 + len(spec) * 3,
            "language": self.language,
        }

    def health(self) -> dict[str, Any]:
        return {"ok": True, "language": self.language}


class TesterAgent:
    """Pretends to run tests over whatever it is given; always passes."""

    def __init__(self, **config: Any) -> None:
        self.config = config

    def execute(self, input: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        data = _as_dict(input)
        checked = sorted(str(key) for key in data)
        return {"passed": True, "checked": checked, "tests": len(checked)}


class SleeperAgent:
    """Sleeps ``input["seconds"]`` (default from config); async, so cancellation interrupts it.

    With ``input["until_file"]`` it instead waits until that file exists (a gate that tests on
    one machine open at a moment of their choosing), for at most ``seconds``.
    """

    def __init__(self, seconds: float = 1.0, **config: Any) -> None:
        self.seconds = float(seconds)

    async def execute(self, input: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        data = _as_dict(input)
        seconds = float(data.get("seconds", self.seconds))
        gate = data.get("until_file")
        if gate:
            deadline = time.monotonic() + seconds
            while not os.path.exists(str(gate)):
                if time.monotonic() >= deadline:
                    return {"gate": str(gate), "opened": False}
                await asyncio.sleep(0.02)
            return {"gate": str(gate), "opened": True}
        await asyncio.sleep(seconds)
        return {"slept": seconds}


class EchoAgent:
    """Returns its input unchanged; a no-op for benchmarks."""

    def __init__(self, **config: Any) -> None:
        self.config = config

    async def execute(self, input: Any, context: dict[str, Any]) -> Any:
        return input


class NoopAgent:
    """Returns its input unchanged, synchronously; the sync no-op for benchmarks."""

    def __init__(self, **config: Any) -> None:
        self.config = config

    def execute(self, input: Any, context: dict[str, Any]) -> Any:
        return input


class FlakyAgent:
    """Raises RuntimeError on the first ``fail_times`` attempts, then succeeds."""

    def __init__(self, fail_times: int = 1, **config: Any) -> None:
        self.fail_times = int(fail_times)

    def execute(self, input: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        data = _as_dict(input)
        fail_times = int(data.get("fail_times", self.fail_times))
        attempt = int(context.get("attempt", 1))
        if attempt <= fail_times:
            raise RuntimeError(f"flaky failure on attempt {attempt} of {fail_times}")
        return {"ok": True, "attempts_needed": fail_times + 1}


class CrashAgent:
    """Kills its own process on the first ``crash_times`` attempts (a replica crash)."""

    def __init__(self, crash_times: int = 1, **config: Any) -> None:
        self.crash_times = int(crash_times)

    def execute(self, input: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        data = _as_dict(input)
        crash_times = int(data.get("crash_times", self.crash_times))
        attempt = int(context.get("attempt", 1))
        if attempt <= crash_times:
            os._exit(1)
        return {"ok": True, "survived_after": crash_times}


class FailingAgent:
    """Always raises ValueError."""

    def __init__(self, message: str = "bad input", **config: Any) -> None:
        self.message = message

    def execute(self, input: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        raise ValueError(f"{self.message}: {sorted(_as_dict(input))}")


class PayloadAgent:
    """Answers a text of ``chars`` characters and a ``score`` read from text (``"nan"`` reads
    as a NaN): what a careless agent can hand back, for checking the control plane's limits."""

    def __init__(self, **config: Any) -> None:
        self.config = config

    def execute(self, input: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        data = _as_dict(input)
        return {
            "tag": data.get("tag"),
            "text": "x" * int(data.get("chars", 0)),
            "score": float(data.get("score", "0")),
        }
