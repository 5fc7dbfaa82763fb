"""Commands and writes from the platform reach the field device through the gateway, checked and audited."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from tests.edge import configs
from tests.edge.conftest import Uplink, until
from tests.helpers import free_port

from indunet.core.errors import InvalidInput
from indunet.edge import config as gateway_config
from indunet.edge.gateway import Gateway
from indunet.platform import device_api, devices, rpc
from indunet.platform.runtime import Platform
from indunet.security import Principal
from indunet.sim import modbus_plc

HOLDING, COILS = 3, 1


def test_rpc_and_shared_attributes_write_registers_and_every_request_is_audited(
    platform: Platform, uplink: Uplink, tmp_path: Path
) -> None:
    station = modbus_plc.PumpStation(units=1, seed=3)
    system = Principal.system(uplink.tenant_id)

    def call(method: str, params: Any) -> Any:
        ref = devices.resolve(platform, uplink.tenant_id, "pump-1")
        return rpc.call_device(platform, system, ref.id, method, params, 10_000, False)

    async def scenario() -> None:
        stop = asyncio.Event()
        ready = asyncio.Event()
        port = free_port()
        sim = asyncio.create_task(
            modbus_plc.serve("127.0.0.1", port, station=station, ready=ready, stop=stop)
        )
        await asyncio.wait_for(ready.wait(), 10)
        config = gateway_config.parse(
            configs.gateway(
                uplink.gateway,
                uplink.token,
                uplink.mqtt_port,
                str(tmp_path / "q.db"),
                [configs.pump("pump-1", port)],
            )
        )
        gateway = Gateway(config)
        gw_stop = asyncio.Event()
        running = asyncio.create_task(gateway.run(gw_stop))
        try:
            await until(
                lambda: gateway.uplink.mode == "mqtt" and gateway.workers["pump-1"].health.polls > 0,
                20,
                "the gateway",
            )
            # A declared command with its parameter, mapped to a holding register write.
            assert await asyncio.to_thread(call, "set_speed", {"rpm": 2200}) == {"success": True}
            assert station.read(1, HOLDING, 0, 1) == [2200]
            # A point written by name with a bare value; then a command mapped to a coil.
            assert await asyncio.to_thread(call, "speed_setpoint", 1800) == {"success": True}
            assert station.read(1, HOLDING, 0, 1) == [1800]
            assert await asyncio.to_thread(call, "stop", None) == {"success": True}
            assert station.read(1, COILS, 0, 1) == [False]
            # The platform refuses what the model forbids before anything is sent.
            with pytest.raises(InvalidInput):
                await asyncio.to_thread(call, "flow", 12.0)
            # A shared attribute naming a writable bound point is written to the device.
            ref = devices.resolve(platform, uplink.tenant_id, "pump-1")
            await asyncio.to_thread(
                device_api.set_shared_attributes, platform, system, ref.id, {"speed_setpoint": 1500}
            )
            await until(
                lambda: station.read(1, HOLDING, 0, 1) == [1500], 10, "the shared attribute on the device"
            )
            # Its audit entry follows the write: wait for it, so the order checked below is the order
            # of events (under load the next refusal was once audited first).
            await until(
                lambda: sum(e["outcome"] == "ok" for e in gateway.queue.audit_log()) == 4,
                10,
                "the shared attribute's audit entry",
            )
            # The gateway checks again with its own model and bindings, whatever reaches it.
            assert "read-only" in (await gateway.downlink.execute("pump-1", "flow", 5.0))["error"]
            refused = await gateway.downlink.execute("pump-1", "speed_setpoint", 99_999)
            assert "error" in refused and station.read(1, HOLDING, 0, 1) == [1500]
            assert "no device" in (await gateway.downlink.execute("pump-77", "stop", None))["error"]
            audit = gateway.queue.audit_log()
        finally:
            gw_stop.set()
            await running
            stop.set()
            await sim
        actions = [(entry["device"], entry["action"], entry["outcome"]) for entry in reversed(audit)]
        assert actions[:4] == [
            ("pump-1", "set_speed", "ok"),
            ("pump-1", "speed_setpoint", "ok"),
            ("pump-1", "stop", "ok"),
            ("pump-1", "speed_setpoint", "ok"),
        ]
        assert [a for a in actions[4:] if a[2] == "ok"] == []

    asyncio.run(scenario())


def test_a_write_to_an_unbound_point_is_refused_at_the_gateway(
    platform: Platform, uplink: Uplink, tmp_path: Path
) -> None:
    pump = configs.pump("pump-2", free_port())
    pump["points"] = [p for p in pump["points"] if p["point"] != "speed_setpoint"]
    pump["commands"] = {}
    config = gateway_config.parse(
        configs.gateway(uplink.gateway, uplink.token, uplink.mqtt_port, str(tmp_path / "q.db"), [pump])
    )

    async def scenario() -> dict[str, Any]:
        gateway = Gateway(config)
        try:
            return await gateway.downlink.execute("pump-2", "speed_setpoint", 1000)
        finally:
            gateway.queue.close()

    outcome = asyncio.run(scenario())
    assert "not bound" in outcome["error"]
