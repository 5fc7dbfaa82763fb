"""The demo's identifier federation: a top-level node (88), a secondary node for the machinery
industry (88.100), the demo enterprise's node (88.100.1, over the platform's identifier store) and a
recursive node, all on loopback in one background thread.

Prefixes are allocated as operators would (site records at the allocating node), the enterprise
registers its machines (the platform labels each device with its identifier) and a batch of products
made on them, and the console resolves everything through the recursive node, which knows only the
top-level node. Secrets are generated once and kept in the data directory.

Trust runs down the same tree: the top-level key certifies itself and the industry node's key, that
one the enterprise's (HS_CERT values in the ``0.NA`` records each parent serves), the enterprise's
records are signed as the platform writes them, and the recursive node, pinned to the top-level
key's BID, refuses a signed record that does not verify.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import uvicorn

from indunet.core.config import IdrNode
from indunet.core.loop_thread import LoopThread
from indunet.idr import enterprise, records
from indunet.idr.app import create_node_app
from indunet.idr.bootstrap import delegation_record, ensure_prefix
from indunet.idr.model import HandleValue, na_handle
from indunet.idr.records import SYSTEM
from indunet.idr.recursive import Recursor
from indunet.idr.server import IdrServer
from indunet.idr.service import Service
from indunet.idr.signed import CERT_INDEX, NotTrusted, PrefixCertificate, certify
from indunet.idr.sites import Endpoint, site
from indunet.idr.store import HandleStore, default_keyring, open_store
from indunet.ledger.did import bid_of
from indunet.ledger.recorder import LedgerRecorder
from indunet.ledger.service import Ledger
from indunet.ledger.store import open_log
from indunet.security.crypto import keys
from indunet.security.crypto.keys import PrivateKey, PublicKey

TOP: Final = "88"
SECONDARY: Final = "88.100"
ENTERPRISE: Final = "88.100.1"
START_TIMEOUT_S: Final = 30.0
PRODUCTS: Final = 240

PRODUCT_TEMPLATE: Final = {
    "label": {"en": "Machined part", "zh-CN": "加工零件"},
    "fields": [
        {"name": "serialNumber", "type": "string", "required": True, "searchable": True, "pattern": "P-[0-9]{4}-[0-9]{6}",
         "label": {"en": "Serial number", "zh-CN": "序列号"}},
        {"name": "model", "type": "enum", "required": True, "searchable": True, "enum": ["IMP-200", "IMP-250", "SHAFT-40"],
         "label": {"en": "Model", "zh-CN": "型号"}},
        {"name": "batch", "type": "string", "searchable": True, "label": {"en": "Batch", "zh-CN": "批次"}},
        {"name": "producedBy", "type": "handle", "searchable": True, "label": {"en": "Produced by", "zh-CN": "生产设备"}},
        {"name": "producedAt", "type": "datetime", "label": {"en": "Produced at", "zh-CN": "生产时间"}},
        {"name": "massKg", "type": "number", "minimum": 0, "unit": "kg", "label": {"en": "Mass", "zh-CN": "质量"}},
    ],
}  # fmt: skip


def _secrets(data_dir: Path) -> dict[str, str]:
    path = data_dir / "demo-idr.json"
    if path.exists():
        saved: dict[str, str] = json.loads(path.read_text())
        return saved
    made = {prefix: secrets.token_urlsafe(16) for prefix in (TOP, SECONDARY, ENTERPRISE)}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(made, handle)
    return made


def _certificate(
    store: HandleStore, issuer: tuple[str, PrivateKey], subject: str, subject_key: PublicKey
) -> HandleValue:
    """The HS_CERT by which ``issuer`` certifies ``subject_key`` for ``subject``: the one its record
    holds while it certifies that key for another month, so a restart changes nothing."""
    with store.read() as tx:
        held = tx.get_value(na_handle(subject), CERT_INDEX)
    month_ms = 30 * 86_400_000
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    if held is not None:
        try:
            found = PrefixCertificate.parse(held.data)
            if (found.issuer, bid_of(found.key), found.not_after_ms > now_ms + month_ms) == (
                issuer[0],
                bid_of(subject_key),
                True,
            ):
                return held
        except NotTrusted:
            pass
    return certify(issuer[1], issuer[0], subject, subject_key, now_ms + 12 * month_ms)


def _allocate(
    parent: HandleStore, prefix: str, server: IdrServer, issuer: tuple[str, PrivateKey], key: PublicKey
) -> None:
    na, values = delegation_record(prefix, [site([Endpoint("127.0.0.1", server.port)])])
    certificate = _certificate(parent, issuer, prefix, key)
    records.create_handle(parent, na, [*values, certificate], SYSTEM, overwrite=True)


def register_products(store: HandleStore, machines: list[str], count: int = PRODUCTS) -> int:
    """A batch of parts made on the demo's machine tools (their identifiers), registered in one call
    (once)."""
    enterprise.save_template(store, "machined-part", PRODUCT_TEMPLATE, SYSTEM)
    with store.read() as tx:
        if tx.count(ENTERPRISE) >= count:
            return 0
    start = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
    models = PRODUCT_TEMPLATE["fields"][1]["enum"]  # type: ignore[index]
    items = [
        enterprise.Item(
            f"{ENTERPRISE}/P-2026-{n:06d}",
            {
                "serialNumber": f"P-2026-{n:06d}",
                "model": models[n % len(models)],
                "batch": f"B{(start + timedelta(hours=n // 40 * 8)).strftime('%Y%m%d')}-{n // 40 % 3 + 1}",
                "producedBy": machines[n % len(machines)],
                "producedAt": (start + timedelta(minutes=12 * n)).isoformat(),
                "massKg": round(2.4 + (n % 7) * 0.05, 2),
            },
        )
        for n in range(1, count + 1)
    ]
    try:
        return enterprise.register(store, "machined-part", items, SYSTEM)
    except records.HandleAlreadyExists:
        return 0


class IdentifierFederation(LoopThread):
    """Four nodes on one event loop in a background thread; ``enterprise_store`` is the platform's."""

    name = "identifier-nodes"
    start_timeout_s = START_TIMEOUT_S

    def __init__(self, enterprise_store: HandleStore, data_dir: Path, enterprise_key: PublicKey) -> None:
        super().__init__()
        self.enterprise_store = enterprise_store
        self.enterprise_key = enterprise_key
        self.anchor = ""
        """The BID of the top-level key: pin it to check signed records (``resolve --verify --anchor``)."""
        self.data_dir = data_dir
        self.secrets = _secrets(data_dir)
        self.nodes: tuple[IdrNode, ...] = ()
        self.resolver: Endpoint | None = None
        self.ledger_url = ""
        self.ledger_did = ""
        self._stores: list[HandleStore] = []

    def closed(self) -> None:
        for store in self._stores:
            store.close()

    async def main(self, stop: asyncio.Event) -> None:
        top_store = open_store(
            self.data_dir / "idr-top.db", keyring=default_keyring(self.data_dir / "idr-top.db")
        )
        secondary_store = open_store(
            self.data_dir / "idr-secondary.db", keyring=default_keyring(self.data_dir / "idr-secondary.db")
        )
        self._stores = [top_store, secondary_store]
        stores = {TOP: top_store, SECONDARY: secondary_store, ENTERPRISE: self.enterprise_store}
        services = {p: Service(s, (p,)) for p, s in stores.items()}
        servers = {p: await IdrServer(service, "127.0.0.1", 0).start() for p, service in services.items()}
        top_key = keys.own_key(self.data_dir / "idr-top.prefix-key.pem")
        secondary_key = keys.own_key(self.data_dir / "idr-secondary.prefix-key.pem")
        self.anchor = bid_of(top_key.public_key())
        recursor = Recursor([Endpoint("127.0.0.1", servers[TOP].port)], anchor=self.anchor)
        resolver = await IdrServer(recursor, "127.0.0.1", 0).start()
        # The top-level node keeps the allocation ledger, served with its REST API.
        ledger = Ledger(
            open_log(self.data_dir / "idr-top.db"), keys.own_key(self.data_dir / "idr-top.ledger-key.pem")
        )
        LedgerRecorder(ledger, top_store)
        self.ledger_did = ledger.did
        listening = socket.create_server(("127.0.0.1", 0))
        top_http = uvicorn.Server(
            uvicorn.Config(
                create_node_app(top_store, handler=services[TOP], ledger=ledger),
                log_level="warning",
                lifespan="off",
            )
        )
        serving = asyncio.ensure_future(top_http.serve(sockets=[listening]))
        self.ledger_url = f"http://127.0.0.1:{listening.getsockname()[1]}/api/v1/ledger"
        try:
            for prefix, store in stores.items():
                own = site([Endpoint("127.0.0.1", servers[prefix].port)])
                ensure_prefix(store, prefix, self.secrets[prefix].encode(), own)
            own_certificate = _certificate(top_store, (TOP, top_key), TOP, top_key.public_key())
            records.put_values(top_store, na_handle(TOP), [own_certificate], SYSTEM)
            _allocate(top_store, SECONDARY, servers[SECONDARY], (TOP, top_key), secondary_key.public_key())
            _allocate(
                secondary_store,
                ENTERPRISE,
                servers[ENTERPRISE],
                (SECONDARY, secondary_key),
                self.enterprise_key,
            )
            self.resolver = Endpoint("127.0.0.1", resolver.port)
            self.nodes = (
                IdrNode(
                    name="National top-level node",
                    role="top",
                    prefix=TOP,
                    address=str(_at(servers[TOP])),
                    ledger=self.ledger_url,
                    ledger_log=self.ledger_did,
                ),
                IdrNode(
                    name="Machinery industry node",
                    role="secondary",
                    prefix=SECONDARY,
                    address=str(_at(servers[SECONDARY])),
                ),
                IdrNode(
                    name="Demo enterprise node",
                    role="enterprise",
                    prefix=ENTERPRISE,
                    address=str(_at(servers[ENTERPRISE])),
                ),
                IdrNode(name="Recursive resolver", role="recursive", address=str(self.resolver)),
            )
            self.ready()
            await stop.wait()
        finally:
            top_http.should_exit = True
            await asyncio.gather(serving, return_exceptions=True)
            ledger.store.close()
            await resolver.stop()
            recursor.close()
            for server in servers.values():
                await server.stop()

    def credentials(self) -> dict[str, Any]:
        """What the demo prints: where the nodes listen and the enterprise administrator's login."""
        return {
            "resolver": str(self.resolver),
            "enterprise": next((n.address for n in self.nodes if n.role == "enterprise"), ""),
            "admin": f"300:0.NA/{ENTERPRISE}",
            "secret": self.secrets[ENTERPRISE],
        }


def _at(server: IdrServer) -> Endpoint:
    return Endpoint("127.0.0.1", server.port)
