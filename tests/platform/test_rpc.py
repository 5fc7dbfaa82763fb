"""The command router, with an in-memory channel standing in for a transport."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from indunet.core.errors import Conflict
from indunet.platform.rpc import RpcRouter, RpcTimeout


class EchoChannel:
    """Answers each request from another thread, as a transport's event loop would."""

    def __init__(self, router: RpcRouter, device_id: str, answer: bool = True) -> None:
        self.router, self.device_id, self.answer = router, device_id, answer
        self.sent: list[tuple[int, str, Any]] = []
        self.updates: list[dict[str, Any]] = []

    def send_rpc(self, request_id: int, method: str, params: Any) -> None:
        self.sent.append((request_id, method, params))
        if self.answer:
            threading.Thread(
                target=self.router.respond, args=(self.device_id, request_id, {"ok": params})
            ).start()

    def send_attributes(self, update: dict[str, Any]) -> None:
        self.updates.append(update)


def test_call_returns_the_devices_answer() -> None:
    router = RpcRouter()
    router.register("d1", EchoChannel(router, "d1"))
    assert router.call("d1", "reboot", {"delay": 1}, 5000, oneway=False) == {"ok": {"delay": 1}}


def test_call_to_unconnected_device_is_a_conflict() -> None:
    with pytest.raises(Conflict):
        RpcRouter().call("nobody", "reboot", None, 100, oneway=False)


def test_silent_device_times_out_and_late_answer_is_ignored() -> None:
    router = RpcRouter()
    channel = EchoChannel(router, "d1", answer=False)
    router.register("d1", channel)
    with pytest.raises(RpcTimeout):
        router.call("d1", "reboot", None, 50, oneway=False)
    request_id = channel.sent[0][0]
    assert router.respond("d1", request_id, "late") is False


def test_oneway_returns_without_waiting_and_unregister_only_removes_its_own_channel() -> None:
    router = RpcRouter()
    first, second = EchoChannel(router, "d1", answer=False), EchoChannel(router, "d1", answer=False)
    router.register("d1", first)
    assert router.call("d1", "blink", None, 50, oneway=True) is None
    router.register("d1", second)
    router.unregister("d1", first)
    assert router.channel("d1") is second
