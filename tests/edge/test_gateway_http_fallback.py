"""While MQTT is unreachable the gateway sends over the platform's HTTP gateway API, and returns to MQTT."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
from tests.edge import configs
from tests.edge.conftest import Uplink, stored, until
from tests.edge.proxy import Proxy
from tests.helpers import free_port

from indunet.edge import config as gateway_config
from indunet.edge.gateway import Gateway
from indunet.platform import devices
from indunet.platform.runtime import Platform
from indunet.sim import modbus_plc


def test_samples_flow_over_http_while_mqtt_is_down_and_mqtt_takes_over_again(
    platform: Platform, uplink: Uplink, tmp_path: Path
) -> None:
    start = int(time.time() * 1000)

    def count() -> int:
        return len(
            stored(platform, uplink.tenant_id, "pump-h", "flow", start, int(time.time() * 1000) + 1000)
        )

    async def scenario() -> None:
        stop = asyncio.Event()
        ready = asyncio.Event()
        port = free_port()
        sim = asyncio.create_task(modbus_plc.serve("127.0.0.1", port, ready=ready, stop=stop))
        await asyncio.wait_for(ready.wait(), 10)
        proxy = await Proxy(uplink.mqtt_port).start()
        proxy.cut()
        document = configs.gateway(
            uplink.gateway,
            uplink.token,
            proxy.port,
            str(tmp_path / "q.db"),
            [configs.pump("pump-h", port, poll_ms=200)],
            uplink={"http": uplink.http_url, "http_fallback_after_s": 0},
        )
        gateway = Gateway(gateway_config.parse(document))
        gw_stop = asyncio.Event()
        running = asyncio.create_task(gateway.run(gw_stop))
        try:
            await until(lambda: gateway.uplink.mode == "http" and count() >= 10, 30, "samples over HTTP")
            ref = devices.resolve(platform, uplink.tenant_id, "pump-h")
            assert ref.type_name == "centrifugal_pump"  # announced over HTTP with its type
            proxy.restore()
            await until(lambda: gateway.uplink.mode == "mqtt", 90, "MQTT to take over again")
            over_http = count()
            await until(lambda: count() > over_http + 5, 20, "samples over MQTT")
        finally:
            gw_stop.set()
            await running
            stop.set()
            await proxy.close()
            await sim

    asyncio.run(scenario())
    stamps = [
        ts
        for ts, _ in stored(
            platform, uplink.tenant_id, "pump-h", "flow", start, int(time.time() * 1000) + 1000
        )
    ]
    assert stamps == sorted(stamps)


def test_the_http_gateway_api_refuses_a_bad_token_and_a_malformed_body(uplink: Uplink) -> None:
    with httpx.Client(base_url=uplink.http_url) as http:
        assert (
            http.post(
                "/api/v1/not-a-token/gateway/telemetry", json={"pump": [{"ts": 1, "values": {"flow": 1}}]}
            ).status_code
            == 401
        )
        bad = http.post(
            f"/api/v1/{uplink.token}/gateway/telemetry",
            content=b"[1, 2",
            headers={"content-type": "application/json"},
        )
        assert bad.status_code in (400, 422) and bad.headers["content-type"].startswith(
            "application/problem+json"
        )
        refused = http.post(
            f"/api/v1/{uplink.token}/gateway/telemetry",
            json={"pump-x": [{"ts": 1, "values": {"no_such_point": 1}}]},
        )
        assert refused.status_code == 422 and refused.json()["stored"] == 0
