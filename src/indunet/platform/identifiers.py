"""The platform's window on identifier resolution.

An installation with ``idr_prefix`` set is an enterprise of the national identifier system: its
enterprise node's records (the same store the node serves) are registered, templated and searched
here, devices get identifiers under the prefix, and identifiers anywhere in the federation are resolved
through the configured recursive node. The console's identifier pages read all of it from here: the
prefix tree with each node's health (a site-information request over UDP, timed), statistics of
registration and resolution, and the template editor.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from indunet.core.config import IdrNode, Settings
from indunet.core.errors import NotFound
from indunet.idr import client, enterprise, records
from indunet.idr.bootstrap import ensure_prefix_record
from indunet.idr.carriers import CarrierRegistry
from indunet.idr.model import HandleValue
from indunet.idr.records import SYSTEM, HandleAlreadyExists
from indunet.idr.rest import value_json
from indunet.idr.signed import RecordSigner
from indunet.idr.sites import Endpoint, parse_endpoint
from indunet.idr.stats import merged, summary
from indunet.idr.store import HandleStore, default_keyring, open_store
from indunet.idr.templates import parse_template, to_values
from indunet.idr.upstream import UdpUpstream, Unreachable
from indunet.idr.wire import GetSiteInfoRequest, GetSiteInfoResponse
from indunet.security import Permission, Principal
from indunet.security.crypto.keys import own_key

if TYPE_CHECKING:
    from indunet.platform.runtime import Platform

HEALTH_TIMEOUT_S: Final = 0.5
MAX_STATS_DAYS: Final = 90

EQUIPMENT_TEMPLATE: Final = {
    "label": {"en": "Equipment", "zh-CN": "设备"},
    "description": "A machine or instrument registered by the platform, with where it is and what it is.",
    "fields": [
        {"name": "name", "type": "string", "required": True, "searchable": True, "label": {"en": "Name", "zh-CN": "名称"}},
        {"name": "equipmentType", "type": "string", "required": True, "searchable": True,
         "label": {"en": "Type", "zh-CN": "设备类型"}},
        {"name": "manufacturer", "type": "string", "searchable": True, "label": {"en": "Manufacturer", "zh-CN": "制造商"}},
        {"name": "site", "type": "string", "searchable": True, "label": {"en": "Site", "zh-CN": "厂区"}},
        {"name": "area", "type": "string", "label": {"en": "Area", "zh-CN": "区域"}},
        {"name": "line", "type": "string", "searchable": True, "label": {"en": "Line", "zh-CN": "产线"}},
        {"name": "commissioned", "type": "date", "label": {"en": "Commissioned", "zh-CN": "投用日期"}},
        {"name": "console", "type": "url", "label": {"en": "Console page", "zh-CN": "控制台页面"}},
    ],
}  # fmt: skip
"""The template of device identifiers registered by the platform."""


@dataclass
class Identifiers:
    """Identifier services of one installation (``store`` is the enterprise node's)."""

    store: HandleStore
    prefix: str
    resolver: Endpoint | None = None
    nodes: tuple[IdrNode, ...] = ()
    carriers: CarrierRegistry | None = None
    _upstream: UdpUpstream = field(default_factory=UdpUpstream)

    def overview(self) -> dict[str, Any]:
        return {
            "enabled": True,
            "prefix": self.prefix,
            "resolver": str(self.resolver) if self.resolver else None,
            "nodes": len(self.nodes),
        }

    async def resolve(self, handle: str) -> dict[str, Any]:
        """The identifier's values through the recursive node (or the enterprise store when there is
        none); NotFound with the node's answer when it cannot be resolved."""
        started = time.perf_counter()
        if self.resolver is None:
            values: tuple[HandleValue, ...] | list[HandleValue] = records.resolve(self.store, handle)
            via = "local"
        else:
            try:
                values = await client.resolve(self.resolver.host, self.resolver.port, handle, timeout_s=5.0)
            except client.ClientError as exc:
                raise NotFound(
                    f"{handle} could not be resolved: {exc}",
                    key="error.idr_unresolved",
                    handle=handle,
                    reason=str(exc),
                ) from None
            via = str(self.resolver)
        return {
            "handle": handle,
            "via": via,
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 3),
            "values": [value_json(v) for v in values],
        }

    async def health(self) -> list[dict[str, Any]]:
        """Each configured node with whether it answered a site-information request, and how fast."""

        async def probe(node: IdrNode) -> dict[str, Any]:
            endpoint = parse_endpoint(node.address)
            started = time.perf_counter()
            row: dict[str, Any] = node.model_dump()
            try:
                answer = await self._upstream.ask(endpoint, GetSiteInfoRequest(), HEALTH_TIMEOUT_S)
            except Unreachable:
                return {**row, "up": False, "rtt_ms": None}
            body = answer.body
            up = isinstance(body, GetSiteInfoResponse)
            return {**row, "up": up, "rtt_ms": round((time.perf_counter() - started) * 1000, 3)}

        return list(await asyncio.gather(*(probe(n) for n in self.nodes)))

    def statistics(self, days: int) -> dict[str, Any]:
        """Identifiers per prefix and resolution tallies per day and prefix, newest day first."""
        since = (datetime.now(UTC) - timedelta(days=max(1, min(days, MAX_STATS_DAYS)) - 1)).strftime(
            "%Y-%m-%d"
        )
        with self.store.read() as tx:
            counts = tx.counts()
            rows = tx.stats(since)
        tallies = merged((d, p, t.count, t.errors, t.buckets) for d, p, t in rows)
        resolution = [summary(d, p, t) for (d, p), t in sorted(tallies.items(), reverse=True)]
        return {"registered": counts, "resolution": resolution, "since": since}

    def ensure_equipment_template(self) -> None:
        parse_template(EQUIPMENT_TEMPLATE, name="equipment")  # fails loudly if the template itself is wrong
        enterprise.save_template(self.store, "equipment", EQUIPMENT_TEMPLATE, SYSTEM)

    def register_device(self, suffix: str, name: str, data: dict[str, Any]) -> str:
        """Register ``<prefix>/<suffix>`` under the equipment template, or bring its data up to date;
        the identifier."""
        handle = f"{self.prefix}/{suffix}"
        self.ensure_equipment_template()
        item = enterprise.Item(handle, {"name": name, **data})
        try:
            enterprise.register(self.store, "equipment", [item], SYSTEM)
        except HandleAlreadyExists:
            found = enterprise.template(self.store, "equipment")
            records.put_values(self.store, handle, to_values(found, item.data), SYSTEM)
        return handle

    def close(self) -> None:
        self._upstream.close()


def open_identifiers(settings: Settings) -> Identifiers | None:
    """The installation's identifier services, or None when ``idr_prefix`` is not set."""
    if not settings.idr_prefix:
        return None
    location: str | Path = settings.idr_store or (settings.data_dir / "idr.db")
    if isinstance(location, Path):
        location.parent.mkdir(parents=True, exist_ok=True)
    resolver = parse_endpoint(settings.idr_resolver) if settings.idr_resolver else None
    store = open_store(location, keyring=default_keyring(location))
    # The platform registers as the prefix's administrator: its record must exist (the enterprise
    # node, when it serves this store, adds its secret key to the same record).
    ensure_prefix_record(store, settings.idr_prefix)
    key_path = (
        Path(settings.idr_signing_key)
        if settings.idr_signing_key
        else settings.data_dir / "idr-prefix-key.pem"
    )
    key_path.parent.mkdir(parents=True, exist_ok=True)
    key = own_key(key_path)
    if settings.idr_sign_records:
        store.signer = RecordSigner(key, settings.idr_prefix)
    carriers = CarrierRegistry(store, settings.idr_prefix, key)
    return Identifiers(store, settings.idr_prefix, resolver, settings.idr_nodes, carriers)


IDENTIFIER_LABEL: Final = "identifier"
"""The device label holding the device's identifier (the console links it to the resolver page)."""


def identify_device(
    platform: Platform, principal: Principal, device_id: str, console_url: str = ""
) -> dict[str, Any]:
    """Register the device's identifier ``<prefix>/<tenant>/<device>`` (or update its data) and keep
    it in the device's ``identifier`` label; the device as the API shows it. The tenant is part of the
    name because device names are unique per tenant only."""
    from indunet.platform import devices, tenants

    identifiers: Identifiers | None = getattr(platform, "identifiers", None)
    if identifiers is None:
        raise NotFound("identifier resolution is not configured (idr_prefix)", key="error.idr_off")
    principal.require(Permission.WRITE_DEVICES)
    device = devices.get_device(platform, principal, device_id)
    location = device.get("location") or {}
    labels = device.get("labels") or {}
    data: dict[str, Any] = {"equipmentType": device["type"]}
    for key, source in (("site", location), ("area", location), ("line", labels)):
        if isinstance(source.get(key), str) and source[key]:
            data[key] = source[key]
    if console_url:
        data["console"] = f"{console_url.rstrip('/')}/console/#/devices/{device['id']}"
    tenant = tenants.get_tenant(platform, principal)["name"]
    handle = identifiers.register_device(f"{tenant}/{device['name']}", device["name"], data)
    return devices.update_device(
        platform, principal, device_id, {"labels": {**labels, IDENTIFIER_LABEL: handle}}
    )
