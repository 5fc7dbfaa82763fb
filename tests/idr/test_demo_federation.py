"""The demo's identifier federation: four nodes come up in the background, products registered in
one batch resolve through the recursive node from the top, and everything stops cleanly."""

from __future__ import annotations

import asyncio
from pathlib import Path

from indunet import demo_idr
from indunet.idr import client, records
from indunet.idr.store import open_store
from indunet.ledger.audit import ApiSource, audit


def test_the_demo_federation_resolves_products_through_the_recursive_node(tmp_path: Path) -> None:
    store = open_store(tmp_path / "idr.db")
    federation = demo_idr.IdentifierFederation(store, tmp_path).start()
    try:
        assert federation.error is None and federation.resolver is not None
        assert [n.role for n in federation.nodes] == ["top", "secondary", "enterprise", "recursive"]
        machine = f"{demo_idr.ENTERPRISE}/demo/cnc-01"
        assert demo_idr.register_products(store, [machine], count=30) == 30
        assert demo_idr.register_products(store, [machine], count=30) == 0  # once
        resolver = federation.resolver
        values = asyncio.run(
            client.resolve(resolver.host, resolver.port, f"{demo_idr.ENTERPRISE}/P-2026-000007")
        )
        shown = {v.type: v.data.decode() for v in values if v.type != "HS_ADMIN"}
        assert shown["producedBy"] == machine and shown["TEMPLATE"] == "machined-part@1"
        # The secrets stay the same between runs (kept in the data directory, owner-only).
        assert (tmp_path / "demo-idr.json").stat().st_mode & 0o077 == 0
        # The top-level node recorded its own prefix and the allocation of the secondary's; intact.
        report = audit(ApiSource(federation.ledger_url), federation.ledger_did)
        assert report.intact and report.entries == 2, report.problems
    finally:
        federation.stop()
    assert records.resolve(store, f"{demo_idr.ENTERPRISE}/P-2026-000001")  # the store outlives the nodes
    store.close()
