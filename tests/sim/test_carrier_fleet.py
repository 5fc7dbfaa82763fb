"""The simulated carrier fleet of the demo: enrolled on start, its heartbeats accepted by the same
checks as any carrier's, and what they say resolvable from the identifiers."""

from __future__ import annotations

import json
from pathlib import Path

from indunet.idr import records
from indunet.idr.bootstrap import ensure_prefix
from indunet.idr.carriers import CarrierRegistry
from indunet.idr.model import HandleValue
from indunet.idr.store import open_store
from indunet.security.crypto import keys
from indunet.sim.carriers import CarrierFleet


def test_the_fleet_enrols_and_reports_for_its_identifiers(tmp_path: Path) -> None:
    store = open_store(tmp_path / "idr.db")
    ensure_prefix(store, "88.100.1", b"s")
    handles = [f"88.100.1/P-{n}" for n in range(3)]
    for handle in handles:
        records.create_handle(
            store, handle, [HandleValue(1, "URL", b"https://plant.example/p")], records.SYSTEM
        )
    registry = CarrierRegistry(store, "88.100.1", keys.generate(keys.Algorithm.SM2))
    fleet = CarrierFleet(registry, handles, period_s=3600).start()
    try:
        assert [c.status for c in registry.carriers()] == ["active"] * 3
        assert fleet.beat() == 3 and fleet.beat() == 3
        assert {c.last_seq for c in registry.carriers()} == {2}
        shown = {v.type: v.data for v in records.resolve(store, handles[0])}
        assert shown["CARRIER_STATE"] == b"ok" and set(json.loads(shown["LOCATION"])) == {"lat", "lon"}
        assert json.loads(shown["REPORT"])["report"]["battery"] <= 100
    finally:
        fleet.stop()
        store.close()
