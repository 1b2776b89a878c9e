"""A real HTTP agent service (aiohttp on a localhost socket, in a thread of its own) that
speaks the external-agent contract. Each behaviour is a base path, so one server is several
agents:

    /sync     200 {"output": {"input", "context", "headers"}} at once
    /async    202 {"status_url": "jobs/ID"} (relative); the job succeeds once `release` jobs
              were submitted (so it proves a waiting job holds no replica slot)
    /flaky    every odd call (1st, 3rd, ...) is a 503 with Retry-After: 1, the others succeed
    /bad      400 with the contract's error object
    /slow     answers only once the server stops
    /forever  202, and the job runs until cancelled
    /garbage  200 whose body is not JSON
    /sick     /health answers 503
    /any      the behaviour named by the input's "mode" (one agent, every behaviour)

Every request is recorded (method, path, headers, JSON body) for the test to inspect.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Jobs:
    release: int = 1
    submitted: int = 0
    polls: dict[str, int] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)


class HttpAgentService:
    def __init__(self, release_async_after: int = 1) -> None:
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._jobs = Jobs(release=release_async_after)
        self._flaky_calls = itertools.count(1)
        self._job_ids = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()
        self.port = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)

    def url(self, mode: str) -> str:
        return f"http://127.0.0.1:{self.port}/{mode}"

    def find(self, check: Callable[[Call], bool]) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if check(c)]

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stopping.set)  # ends the answers held back
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _start(self) -> int:
        app = web.Application(middlewares=[self._record])
        app.router.add_post("/{mode}/execute", self._execute)
        app.router.add_get("/{mode}/jobs/{job}", self._job)
        app.router.add_get("/{mode}/health", self._health)
        app.router.add_post("/{mode}/cancel", self._cancel)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        return int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        text = await request.text()
        call = Call(
            request.method,
            request.path,
            dict(request.headers),
            json.loads(text) if text else None,
        )
        with self._lock:
            self.calls.append(call)
        response: web.StreamResponse = await handler(request)
        return response

    async def _execute(self, request: web.Request) -> web.Response:
        mode = request.match_info["mode"]
        body = await request.json()
        if mode == "any":
            given = body.get("input")
            mode = str(given.get("mode", "sync")) if isinstance(given, dict) else "sync"
        if mode == "sync":
            return web.json_response({"output": _echo(request, body)})
        if mode == "flaky":
            if next(self._flaky_calls) % 2 == 1:
                return web.json_response(
                    {"error": {"type": "Overloaded", "message": "try again"}},
                    status=503,
                    headers={"Retry-After": "1"},
                )
            return web.json_response({"output": _echo(request, body)})
        if mode == "bad":
            return web.json_response(
                {"error": {"type": "BadInput", "message": "input.text is required"}}, status=400
            )
        if mode == "garbage":
            return web.Response(text="OK")
        if mode == "slow":
            await self._stopping.wait()
        if mode in ("async", "forever"):
            job = str(next(self._job_ids))
            with self._lock:
                self._jobs.submitted += 1
                self._jobs.polls[job] = 0
                if mode == "async":
                    self._jobs.results[job] = _echo(request, body)
            return web.json_response({"status_url": f"jobs/{job}"}, status=202)
        return web.json_response({"error": {"message": f"no mode {mode}"}}, status=404)

    async def _job(self, request: web.Request) -> web.Response:
        job = request.match_info["job"]
        with self._lock:
            if job not in self._jobs.polls:
                return web.json_response({"error": {"message": "no such job"}}, status=404)
            self._jobs.polls[job] += 1
            done = job in self._jobs.results and self._jobs.submitted >= self._jobs.release
            output = self._jobs.results.get(job)
            polls = self._jobs.polls[job]
        if done:
            return web.json_response({"status": "succeeded", "output": output})
        return web.json_response({"status": "running", "details": {"polls": polls}})

    async def _health(self, request: web.Request) -> web.Response:
        if request.match_info["mode"] == "sick":
            return web.json_response({"ok": False}, status=503)
        return web.json_response({"ok": True})

    async def _cancel(self, request: web.Request) -> web.Response:
        return web.json_response({})


def _echo(request: web.Request, body: Any) -> dict[str, Any]:
    return {
        "input": body.get("input"),
        "context": body.get("context"),
        "headers": {k: v for k, v in request.headers.items() if k.lower().startswith("x-")},
    }
