"""The demo's identifier federation: four nodes come up in the background, products registered in
one batch resolve through the recursive node from the top, and everything stops cleanly."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from indunet import demo_idr
from indunet.cli import main
from indunet.idr import client, records
from indunet.idr.signed import HS_SIGNATURE, RecordSigner
from indunet.idr.store import open_store
from indunet.ledger.audit import ApiSource, audit
from indunet.security.crypto import keys


def test_the_demo_federation_resolves_products_through_the_recursive_node(tmp_path: Path) -> None:
    store = open_store(tmp_path / "idr.db")
    enterprise_key = keys.generate(keys.Algorithm.SM2)
    store.signer = RecordSigner(enterprise_key, demo_idr.ENTERPRISE)
    federation = demo_idr.IdentifierFederation(store, tmp_path, enterprise_key.public_key()).start()
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
        shown = {v.type: v.data for v in values}
        assert shown["producedBy"].decode() == machine and shown["TEMPLATE"] == b"machined-part@1"
        # Signed by the enterprise and checked by the recursive node up to the top-level key: the
        # command line does the same for anyone who pinned that key.
        assert HS_SIGNATURE in shown
        assert main(["resolve", f"{demo_idr.ENTERPRISE}/P-2026-000007", "--server", str(resolver),
                     "--verify", "--anchor", federation.anchor]) == 0  # fmt: skip
        assert main(["resolve", f"{demo_idr.ENTERPRISE}/P-2026-000007", "--server", str(resolver),
                     "--verify", "--anchor", "did:bid:zfSomebodyElse"]) == 1  # fmt: skip
        # The secrets stay the same between runs (kept in the data directory, owner-only).
        assert (tmp_path / "demo-idr.json").stat().st_mode & 0o077 == 0
        # The top-level node recorded its own prefix, its certificate and the allocation of the
        # secondary's with the key it certified; intact.
        report = audit(ApiSource(federation.ledger_url), federation.ledger_did)
        assert report.intact and report.entries == 3, report.problems
    finally:
        federation.stop()
    # Started again on other ports: the prefixes moved (transfers), their certified keys did not.
    federation = demo_idr.IdentifierFederation(store, tmp_path, enterprise_key.public_key()).start()
    try:
        said = [json.loads(body) for _, body in ApiSource(federation.ledger_url).entries()]
        assert [(e["kind"], e["subject"]) for e in said[3:]] == [("transfer", "88"), ("transfer", "88.100")]
        keys_of = {
            (e["subject"], e["detail"]["certified_key"]) for e in said if "certified_key" in e["detail"]
        }
        assert len(keys_of) == 2  # one key each for 88 and 88.100, in every entry that names one
    finally:
        federation.stop()
    assert records.resolve(store, f"{demo_idr.ENTERPRISE}/P-2026-000001")  # the store outlives the nodes
    store.close()
