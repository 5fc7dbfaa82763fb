"""The command router, with an in-memory channel standing in for a transport."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from tests.helpers import Tenant

from indunet.core.errors import Conflict, InvalidInput
from indunet.platform import devices, rpc_poll, telemetry
from indunet.platform.commands import CommandCall, PointWrite, check
from indunet.platform.models import Command, DataType, Param, builtin_types, compile_validator
from indunet.platform.rpc import RpcRouter, RpcTimeout, answer_client_rpc
from indunet.platform.rpc_poll import PollChannel
from indunet.platform.runtime import Platform
from indunet.security import Principal


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


# -- model checks ---------------------------------------------------------------------------------------
CNC = compile_validator(next(t for t in builtin_types() if t.name == "cnc_machine_tool"))


@pytest.mark.parametrize(
    ("method", "params", "expected"),
    [
        ("setValue", {"point": "spindle_override", "value": 110}, PointWrite("spindle_override", 110)),
        ("feed_override", {"value": 0.0}, PointWrite("feed_override", 0.0)),
        ("set_feed_override", {"percent": 80}, CommandCall("set_feed_override", {"percent": 80})),
        ("reset_part_count", None, CommandCall("reset_part_count", {})),
        ("stop_program", {}, CommandCall("stop_program", {})),
        # Bare params (ThingsBoard style): a point's value, or a one-parameter command's only param.
        ("spindle_override", 110, PointWrite("spindle_override", 110)),
        ("set_feed_override", 80, CommandCall("set_feed_override", {"percent": 80})),
        ("start_program", "O1000", CommandCall("start_program", {"program_name": "O1000"})),
        ("reset_part_count", 0, CommandCall("reset_part_count", {"value": 0})),
    ],
)
def test_commands_the_model_declares_pass(method: str, params: Any, expected: object) -> None:
    assert check(CNC, method, params) == expected


@pytest.mark.parametrize(
    ("method", "params", "key", "says"),
    [
        ("reboot", None, "error.rpc_unknown_method", "no command or point 'reboot'"),
        ("spindle_speed", {"value": 100.0}, "error.rpc_read_only", "read-only"),
        ("setValue", {"point": "alarm_active", "value": True}, "error.rpc_read_only", "read-only"),
        ("setValue", {"point": "nope", "value": 1}, "error.unknown_point", "no point 'nope'"),
        ("setValue", {"point": "spindle_override"}, "error.rpc_bad_params", "setValue takes"),
        ("spindle_override", {"value": 130.0}, "error.telemetry.out_of_range", "outside [50, 120]"),
        ("spindle_override", {"value": "fast"}, "error.telemetry.wrong_type", "expected a number"),
        ("spindle_override", None, "error.rpc_bad_params", "or the bare value"),
        ("spindle_override", {"value": 110, "x": 1}, "error.rpc_bad_params", "takes params"),
        ("spindle_override", 130, "error.telemetry.out_of_range", "outside [50, 120]"),
        ("spindle_override", [110], "error.telemetry.wrong_type", "expected a number"),
        ("spindle_speed", 100.0, "error.rpc_read_only", "read-only"),
        ("reboot", 1, "error.rpc_unknown_method", "no command or point 'reboot'"),
        ("setValue", 110, "error.rpc_bad_params", "setValue takes"),
        ("set_feed_override", {}, "error.rpc_bad_params", "requires param 'percent'"),
        ("set_feed_override", {"percent": 151}, "error.rpc_bad_params", "outside [0, 150]"),
        ("set_feed_override", {"percent": True}, "error.rpc_bad_params", "expected a number"),
        ("set_feed_override", {"percent": 5, "x": 1}, "error.rpc_bad_params", "no param 'x'"),
        ("start_program", {"program_name": 7}, "error.rpc_bad_params", "expected a string"),
        ("reset_part_count", {"value": 1.5}, "error.rpc_bad_params", "expected an integer"),
        ("stop_program", [1], "error.rpc_bad_params", "object of params"),
        ("stop_program", 1, "error.rpc_bad_params", "bare value only when it declares exactly one"),
        ("set_feed_override", 151, "error.rpc_bad_params", "outside [0, 150]"),
        ("set_feed_override", "fast", "error.rpc_bad_params", "expected a number"),
        ("start_program", 7, "error.rpc_bad_params", "expected a string"),
    ],
)
def test_commands_outside_the_model_are_refused_with_the_reason(
    method: str, params: Any, key: str, says: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        check(CNC, method, params)
    assert caught.value.key == key
    assert says in caught.value.message


def test_a_bare_value_is_refused_by_a_command_of_several_params() -> None:
    jog = Command(
        name="jog",
        description="Move one axis.",
        params=(Param(name="axis", data_type=DataType.STRING), Param(name="mm", data_type=DataType.FLOAT)),
    )
    machine = CNC.device_type.model_copy(update={"commands": (*CNC.device_type.commands, jog)})
    with pytest.raises(InvalidInput) as caught:
        check(compile_validator(machine), "jog", 5.0)
    assert caught.value.key == "error.rpc_bad_params"
    assert "bare value only when it declares exactly one" in caught.value.message
    assert check(compile_validator(machine), "jog", {"axis": "x", "mm": 5.0}) == CommandCall(
        "jog", {"axis": "x", "mm": 5.0}
    )


class FakeWriter:
    """A transport without replies, as the Sparkplug host is."""

    def __init__(self, held: str) -> None:
        self.held = held
        self.writes: list[tuple[str, str, Any]] = []

    def state_of(self, device_id: str) -> str | None:
        return "online" if device_id == self.held else None

    def send_command(self, principal: Principal, device_id: str, point: str, value: Any) -> None:
        self.writes.append((device_id, point, value))


def test_router_finds_the_writer_holding_a_device_and_forgets_removed_ones() -> None:
    router = RpcRouter()
    writer = FakeWriter("d1")
    router.add_writer(writer)
    assert router.writer("d1") is writer and router.writer("d2") is None
    router.remove_writer(writer)
    assert router.writer("d1") is None


def test_client_side_rpc_answers_are_shared_by_transports() -> None:
    assert answer_client_rpc("getCurrentTime", dict)["currentTime"] > 1_600_000_000_000
    assert answer_client_rpc("getSessionLimits", lambda: {"maxPayloadSize": 5}) == {"maxPayloadSize": 5}
    with pytest.raises(InvalidInput):
        answer_client_rpc("getWeather", dict)


# -- long-poll channel ----------------------------------------------------------------------------------
async def _never_gone() -> bool:
    return False


async def _gone() -> bool:
    return True


def test_poll_gets_a_command_sent_while_it_waits_and_the_answer_completes_the_call() -> None:
    router = RpcRouter()
    channel = PollChannel(router, "d1")

    async def device() -> None:
        command = await channel.poll(10.0, _never_gone)
        assert command is not None and command["method"] == "reboot"
        await asyncio.to_thread(router.respond, "d1", command["id"], {"done": True})

    async def scenario() -> Any:
        task = asyncio.create_task(device())
        while channel.waiting() == 0:
            await asyncio.sleep(0.01)
        answer = await asyncio.to_thread(router.call, "d1", "reboot", None, 10_000, False)
        await task
        return answer

    assert asyncio.run(scenario()) == {"done": True}
    assert channel.waiting() == 0


def test_poll_times_out_empty_and_leaves_no_waiter() -> None:
    channel = PollChannel(RpcRouter(), "d1")
    assert asyncio.run(channel.poll(0.05, _never_gone)) is None
    assert channel.waiting() == 0


def test_command_between_polls_is_queued_for_the_next_and_a_gone_client_loses_nothing() -> None:
    router = RpcRouter()
    channel = PollChannel(router, "d1")
    assert asyncio.run(channel.poll(0.01, _never_gone)) is None
    channel.send_rpc(7, "blink", {"n": 1})  # within the grace time after the last poll

    async def gone_after_assignment() -> bool:
        # The client disconnects just after a command was bound to its poll.
        channel.send_rpc(8, "blink", {"n": 2})
        return True

    assert asyncio.run(channel.poll(5.0, _never_gone)) == {"id": 7, "method": "blink", "params": {"n": 1}}
    assert asyncio.run(channel.poll(5.0, gone_after_assignment)) is None
    assert channel.waiting() == 0
    assert asyncio.run(channel.poll(5.0, _never_gone)) == {"id": 8, "method": "blink", "params": {"n": 2}}


def test_device_that_stopped_polling_is_offline_and_unregistered(monkeypatch: pytest.MonkeyPatch) -> None:
    router = RpcRouter()
    channel = PollChannel(router, "d1")
    assert asyncio.run(channel.poll(0.01, _never_gone)) is None
    assert router.channel("d1") is channel
    monkeypatch.setattr(rpc_poll, "GRACE_S", -1.0)
    with pytest.raises(Conflict):
        router.call("d1", "reboot", None, 1000, oneway=False)
    assert router.channel("d1") is None


def test_polls_per_device_and_queued_commands_are_bounded() -> None:
    router = RpcRouter()
    channel = PollChannel(router, "d1")
    for number in range(rpc_poll.MAX_QUEUED):
        channel.send_rpc(number + 1, "blink", None)
    with pytest.raises(Conflict):
        channel.send_rpc(99, "blink", None)

    async def crowd() -> None:
        empty = PollChannel(router, "d2")
        waiting = [
            asyncio.create_task(empty.poll(0.5, _never_gone)) for _ in range(rpc_poll.MAX_POLLS_PER_DEVICE)
        ]
        while empty.waiting() < rpc_poll.MAX_POLLS_PER_DEVICE:
            await asyncio.sleep(0.01)
        with pytest.raises(Conflict):
            await empty.poll(0.5, _never_gone)
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        assert empty.waiting() == 0

    asyncio.run(crowd())


def test_gone_client_abandons_the_poll() -> None:
    channel = PollChannel(RpcRouter(), "d1")
    assert asyncio.run(channel.poll(30.0, _gone)) is None
    assert channel.waiting() == 0


# -- presence -------------------------------------------------------------------------------------------
def test_mark_offline_takes_effect_at_once_until_the_device_sends_again(
    platform: Platform, tenant_a: Tenant
) -> None:
    system = Principal.system(tenant_a.id)
    device_id = devices.create_device(platform, system, "presence-probe", "cnc_machine_tool")["id"]
    telemetry.ingest(platform, system, [{"device": device_id, "values": {"spindle_speed": 1.0}}])
    assert devices.get_device(platform, system, device_id)["status"] == "online"
    platform.mark_offline(device_id)
    assert devices.get_device(platform, system, device_id)["status"] == "offline"
    telemetry.ingest(platform, system, [{"device": device_id, "values": {"spindle_speed": 2.0}}])
    assert devices.get_device(platform, system, device_id)["status"] == "online"
