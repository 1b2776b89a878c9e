"""The backend's relay of heartbeats from replicas to the engine, with stand-in replica handles
(no cluster): one question per replica per round, a stuck replica delays no other, and what an
attempt sent after the last round arrives with its result."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ray_backend.attempt_context import AttemptKey, ReplicaHeartbeats
from ray_backend.backend_state import BackendState
from ray_backend.heartbeat_relay import HeartbeatRelay
from ray_backend.replica_actor import HEARTBEATS, OK, OUTPUT


class Method:
    def __init__(self, call: Callable[[dict[AttemptKey, int]], Any]) -> None:
        self._call = call

    def remote(self, known: dict[AttemptKey, int]) -> Any:
        return self._call(known)


class Handle:
    """A replica handle whose `heartbeats` answers from a real ReplicaHeartbeats board (or
    never, when stuck)."""

    def __init__(self, stuck: bool = False) -> None:
        self.board = ReplicaHeartbeats()
        self.questions: list[dict[AttemptKey, int]] = []
        self.heartbeats = Method(self._answer if not stuck else self._never)

    async def _answer(self, known: dict[AttemptKey, int]) -> Any:
        self.questions.append(known)
        return self.board.since(known)

    async def _never(self, known: dict[AttemptKey, int]) -> Any:
        self.questions.append(known)
        await asyncio.sleep(3600)


def test_rounds_relay_new_heartbeats_and_a_stuck_replica_delays_no_other() -> None:
    async def main() -> None:
        relay = HeartbeatRelay(BackendState(), interval_s=3600, timeout_s=3600)
        good, stuck = Handle(), Handle(stuck=True)
        heard: dict[str, list[Any]] = {"a": [], "b": [], "c": []}
        calls = {name: asyncio.get_running_loop().create_future() for name in heard}
        keys = {name: ("e", name, 1) for name in heard}
        beat_a = good.board.open(keys["a"])
        good.board.open(keys["b"])
        relaying = [
            asyncio.ensure_future(
                relay.relayed(calls[name], keys[name], replica, handle, heard[name].append)
            )
            for name, replica, handle in (
                ("a", "good", good),
                ("b", "good", good),
                ("c", "stuck", stuck),
            )
        ]
        await asyncio.sleep(0)
        beat_a({"page": 1})
        beat_a(None)
        await asyncio.gather(*relay.poll_round()[:1])  # the good replica's answer
        assert heard == {"a": [{"page": 1}], "b": [], "c": []}
        assert good.questions == [{keys["a"]: 0, keys["b"]: 0}]  # one question per replica
        beat_a(None)
        asked = relay.poll_round()
        assert len(asked) == 1  # the stuck replica is not asked again while it owes an answer
        await asyncio.gather(*asked)
        assert heard["a"] == [{"page": 1}, None]
        assert len(stuck.questions) == 1
        for call in calls.values():
            call.cancel()
        await asyncio.gather(*relaying, return_exceptions=True)

    asyncio.run(main())


def test_heartbeats_after_the_last_round_arrive_with_the_result() -> None:
    async def main() -> None:
        relay = HeartbeatRelay(BackendState(), interval_s=3600)
        handle = Handle()
        key = ("e", "t", 3)
        beat = handle.board.open(key)
        heard: list[Any] = []
        call: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        relayed = asyncio.ensure_future(relay.relayed(call, key, "r", handle, heard.append))
        await asyncio.sleep(0)
        beat({"step": 1})
        await asyncio.gather(*relay.poll_round())
        beat({"step": 2})
        beat(None)
        envelope = {OK: True, OUTPUT: 1, HEARTBEATS: handle.board.close(key)}
        call.set_result(envelope)
        assert await relayed is envelope
        assert heard == [{"step": 1}, {"step": 2}]
        assert relay.record(key, {"late": True}) is False  # no longer in flight

    asyncio.run(main())


def test_record_hands_a_heartbeat_to_the_attempt_in_flight() -> None:
    async def main() -> None:
        relay = HeartbeatRelay(BackendState(), interval_s=3600)
        heard: list[Any] = []
        call: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        key = ("e", "http", 1)
        relayed = asyncio.ensure_future(relay.relayed(call, key, "r", Handle(), heard.append))
        await asyncio.sleep(0)
        assert relay.record(key, {"status": "running", "percent": 40}) is True
        assert relay.record(("e", "http", 2), None) is False
        call.set_result({OK: True, OUTPUT: None})
        await relayed
        assert heard == [{"status": "running", "percent": 40}]

    asyncio.run(main())
