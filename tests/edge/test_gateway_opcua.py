"""An OPC UA machine tool behind the gateway: signed and encrypted session, subscriptions, method calls."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from tests.edge import configs
from tests.edge.conftest import Uplink, stored, until
from tests.helpers import free_port

from indunet.edge import config as gateway_config
from indunet.edge.drivers.opcua_discovery import generate_client_certificate
from indunet.edge.gateway import Gateway
from indunet.platform import devices, rpc
from indunet.platform.models import builtin_types
from indunet.platform.runtime import Platform
from indunet.security import Principal
from indunet.sim import opcua_cnc

USERS = {"operator": "s3cret-cnc"}


def _machine(endpoint: str, certificate: Path, key: Path, server_certificate: Path | None) -> dict[str, Any]:
    model = {t.name: t for t in builtin_types()}["cnc_machine_tool"]
    declared = {c.name for c in model.commands}
    return {
        "name": "cnc-ua-1",
        "type": "cnc_machine_tool",
        "driver": "opcua",
        "connection": {
            "endpoint": endpoint,
            "security_policy": "Basic256Sha256",
            "security_mode": "SignAndEncrypt",
            "certificate": str(certificate),
            "private_key": str(key),
            **({"server_certificate": str(server_certificate)} if server_certificate else {}),
            "username": "operator",
            "password": USERS["operator"],
            "mode": "subscribe",
            "publishing_interval_ms": 100,
        },
        "points": opcua_cnc.gateway_points("CNC-1"),
        "commands": {k: v for k, v in opcua_cnc.gateway_commands("CNC-1").items() if k in declared},
    }


def test_subscribed_values_reach_the_platform_with_source_timestamps_and_commands_call_methods(
    platform: Platform, uplink: Uplink, tmp_path: Path
) -> None:
    start = int(time.time() * 1000)
    server = opcua_cnc.CncOpcUaServer(
        "127.0.0.1", free_port(), machines=1, cert_dir=tmp_path / "server-pki", users=USERS, period_s=0.1
    )

    async def scenario() -> None:
        await server.start()
        certificate, key = await generate_client_certificate(tmp_path / "gateway-pki")
        config = gateway_config.parse(
            configs.gateway(
                uplink.gateway,
                uplink.token,
                uplink.mqtt_port,
                str(tmp_path / "q.db"),
                [_machine(server.endpoint, certificate, key, server.server_certificate)],
            )
        )
        gateway = Gateway(config)
        stop = asyncio.Event()
        running = asyncio.create_task(gateway.run(stop))
        system = Principal.system(uplink.tenant_id)
        try:
            await until(
                lambda: (
                    len(
                        stored(
                            platform,
                            uplink.tenant_id,
                            "cnc-ua-1",
                            "power_active",
                            start,
                            int(time.time() * 1000),
                        )
                    )
                    >= 5
                ),
                30,
                "subscribed power readings on the platform",
            )
            ref = devices.resolve(platform, uplink.tenant_id, "cnc-ua-1")
            answer = await asyncio.to_thread(
                rpc.call_device, platform, system, ref.id, "set_spindle_override", 85, 15_000, False
            )
            assert answer["success"] is True
            assert server.processes[0].machine.spindle_override == 85.0
            await until(
                lambda: any(
                    v == 85.0
                    for _, v in stored(
                        platform,
                        uplink.tenant_id,
                        "cnc-ua-1",
                        "spindle_override",
                        start,
                        int(time.time() * 1000),
                    )
                ),
                20,
                "the new override reported back by subscription",
            )
            health = gateway.workers["cnc-ua-1"].health
            assert health.state == "connected" and health.transport_errors == 0
        finally:
            stop.set()
            await running
            await server.stop()

    asyncio.run(scenario())
    positions = stored(platform, uplink.tenant_id, "cnc-ua-1", "power_active", start, int(time.time() * 1000))
    stamps = [ts for ts, _ in positions]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert all(start - 1000 <= ts <= int(time.time() * 1000) for ts in stamps)  # the server's source times


def test_a_wrong_password_keeps_the_device_backing_off_with_the_reason(
    platform: Platform, uplink: Uplink, tmp_path: Path
) -> None:
    server = opcua_cnc.CncOpcUaServer(
        "127.0.0.1", free_port(), machines=1, cert_dir=tmp_path / "pki", users=USERS
    )

    async def scenario() -> None:
        await server.start()
        certificate, key = await generate_client_certificate(tmp_path / "gateway-pki")
        machine = _machine(server.endpoint, certificate, key, server.server_certificate)
        machine["connection"]["password"] = "wrong"
        config = gateway_config.parse(
            configs.gateway(uplink.gateway, uplink.token, uplink.mqtt_port, str(tmp_path / "q.db"), [machine])
        )
        gateway = Gateway(config)
        stop = asyncio.Event()
        running = asyncio.create_task(gateway.run(stop))
        try:
            health = gateway.workers["cnc-ua-1"].health
            await until(lambda: health.transport_errors >= 1, 30, "the refused session")
            assert health.state in ("backoff", "connecting")
            assert "BadUserAccessDenied" in health.last_error or "refused" in health.last_error
        finally:
            stop.set()
            await running
            await server.stop()

    asyncio.run(scenario())
