"""The console's identifier page against a running server with identifiers on.

The server is the platform with ``idr_prefix`` set and its own identifier store, without a demo and
without a resolver, so resolution reads the installation's own records. An engineer registers a
device's identifier from its page and follows the link to its resolution; builds a metadata template
in the editor (version 1, then 2, then a refused field name); finds an identifier by a template field
and follows a handle value to the identifier it names; sees the registered count in the statistics;
and sees the prefix tree empty, then drawn top -> secondary -> enterprise with the recursive node
beside it once nodes are configured.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from tests.e2e.test_console import Watch, browser, catalog, console, log_in  # noqa: F401 - fixtures
from tests.helpers import PASSWORD, make_settings, served
from tests.web.test_identifiers_api import Node

from indunet.core.config import IdrNode
from indunet.idr.app import create_node_app
from indunet.idr.carriers import heartbeat
from indunet.idr.store import open_store
from indunet.ledger.did import bid_of
from indunet.ledger.entries import Kind, LedgerEntry
from indunet.ledger.service import Ledger
from indunet.ledger.store import entries as ledger_entries
from indunet.ledger.store import open_log
from indunet.ledger.witness import Witness
from indunet.platform import accounts, devices, tenants
from indunet.platform.runtime import Platform, open_platform
from indunet.security import Principal
from indunet.security.crypto import keys
from indunet.web.app import create_app

PREFIX = "88.100.1"
EMAIL = "engineer@ids-console.example.cn"
# The browser reports every 4xx answer as a console error; these are the ones the test provokes.
EXPECTED_FAILURES = re.compile(r"^Failed to load resource: the server responded with a status of (404|422)\b")


class Site:
    def __init__(self, platform: Platform, base_url: str, tenant_id: str) -> None:
        self.platform = platform
        self.base_url = base_url
        self.system = Principal.system(tenant_id)
        token = httpx.post(f"{base_url}/api/auth/token", data={"username": EMAIL, "password": PASSWORD})
        self.headers = {"Authorization": f"Bearer {token.json()['access_token']}"}

    def device(self, name: str) -> dict[str, Any]:
        created: dict[str, Any] = devices.create_device(
            self.platform, self.system, name, "cnc_machine_tool", {"line": "B"}
        )
        return created


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data_dir: Path = tmp_path_factory.mktemp("ids-console")
    settings = make_settings("sqlite", data_dir, idr_prefix=PREFIX, idr_store=str(data_dir / "ids.db"))
    platform = open_platform(settings)
    try:
        tenant = tenants.create_tenant(platform, "ids-console")
        accounts.add_user(platform, Principal.system(tenant["id"]), EMAIL, PASSWORD, "engineer")
        with served(create_app(platform)) as base_url:
            yield Site(platform, base_url, tenant["id"])
    finally:
        platform.close()


def _unexpected_errors(watch: Watch) -> list[str]:
    return [e for e in watch.console_errors if not EXPECTED_FAILURES.match(e)]


def _assert_clean(watch: Watch, missing: list[str] | None = None) -> None:
    """No missing catalog key, no request off the server, no console error but the expected ones."""
    assert missing in (None, [])
    assert watch.foreign_requests == []
    assert _unexpected_errors(watch) == []


def _missing_keys(page: Any) -> list[str]:
    missing: list[str] = []
    page.on("console", lambda msg: missing.append(msg.text) if "i18n: missing key" in msg.text else None)
    return missing


@pytest.mark.browser
def test_register_a_device_resolve_it_and_see_it_counted(
    site: Site,
    console: tuple[Any, Watch],  # noqa: F811 - the fixture imported above
) -> None:
    from playwright.sync_api import expect

    page, watch = console
    missing = _missing_keys(page)
    device = site.device("press-07")
    handle = f"{PREFIX}/ids-console/press-07"
    log_in(page, site.base_url, EMAIL, PASSWORD)

    page.locator(f'[data-testid="device-row"][data-device-id="{device["id"]}"]').get_by_role("link").click()
    page.get_by_test_id("register-identifier").click()
    link = page.get_by_test_id("identifier-link")
    expect(link).to_have_text(handle)
    expect(page.get_by_test_id("register-identifier")).to_have_count(0)
    link.click()

    page.wait_for_url(re.compile(r"#/identifiers\?handle="))
    expect(page.get_by_test_id("ids-tab-resolve")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_test_id("resolve-input")).to_have_value(handle)
    expect(page.get_by_test_id("resolve-handle")).to_have_text(handle)
    expect(page.get_by_test_id("resolve-via")).to_have_text("via this server's records")
    expect(page.get_by_test_id("resolve-elapsed")).to_have_text(re.compile(r"^[\d.,]+ ms$"))

    def row(value_type: str) -> Any:
        return page.locator(f'[data-testid="resolve-row"][data-type="{value_type}"]')

    expect(row("name")).to_contain_text("press-07")
    expect(row("equipmentType")).to_contain_text("cnc_machine_tool")
    expect(row("TEMPLATE")).to_contain_text("equipment@1")
    console_value = row("console").get_by_role("link")
    expect(console_value).to_have_attribute("href", re.compile(rf"/console/#/devices/{device['id']}$"))

    page.get_by_test_id("resolve-input").fill(f"{PREFIX}/no-such-thing")
    page.get_by_test_id("resolve-submit").click()
    expect(page.get_by_test_id("resolve-error")).to_contain_text(
        f"{PREFIX}/no-such-thing could not be resolved."
    )
    expect(page.get_by_test_id("resolve-table")).to_have_count(0)
    # The address follows the form, so a reload resolves the same identifier.
    assert "no-such-thing" in page.url

    page.get_by_test_id("ids-tab-stats").click()
    registered = page.locator(f'[data-testid="stats-registered-row"][data-prefix="{PREFIX}"]')
    expect(registered.get_by_test_id("stats-registered-count")).to_have_text("1")
    expect(page.get_by_test_id("stats-resolution")).to_contain_text("No resolutions in this period.")

    _assert_clean(watch, missing)


@pytest.mark.browser
def test_template_editor_versions_errors_search_and_chinese(
    site: Site,
    console: tuple[Any, Watch],  # noqa: F811 - the fixture imported above
) -> None:
    from playwright.sync_api import expect

    page, watch = console
    missing = _missing_keys(page)
    lathe = site.device("lathe-02")
    registered = httpx.post(f"{site.base_url}/api/identifiers/devices/{lathe['id']}", headers=site.headers)
    assert registered.status_code == 200, registered.text
    log_in(page, site.base_url, EMAIL, PASSWORD)

    page.get_by_role("link", name="Identifiers").click()
    page.get_by_test_id("ids-tab-templates").click()
    expect(page.locator('[data-testid="template-row"][data-name="equipment"]')).to_be_visible()
    page.get_by_test_id("template-new").click()
    editor = page.get_by_test_id("template-editor")
    editor.get_by_test_id("tpl-name").fill("pump")
    editor.get_by_test_id("tpl-label-en").fill("Pump")
    editor.get_by_test_id("tpl-label-zh").fill("泵")
    fields = editor.get_by_test_id("field-row")
    fields.nth(0).get_by_test_id("field-name").fill("serial")
    fields.nth(0).get_by_test_id("field-required").check()
    fields.nth(0).get_by_test_id("field-searchable").check()
    editor.get_by_test_id("tpl-add-field").click()
    fields.nth(1).get_by_test_id("field-name").fill("madeBy")
    fields.nth(1).get_by_test_id("field-type").select_option("handle")
    editor.get_by_test_id("tpl-save").click()
    expect(editor.get_by_test_id("tpl-saved")).to_have_text("Saved as version 1")
    row = page.locator('[data-testid="template-row"][data-name="pump"]')
    expect(row.get_by_test_id("template-version")).to_have_text("1")
    expect(row).to_contain_text("Pump")

    # A changed field makes version 2; saving it again changes nothing.
    fields.nth(1).get_by_test_id("field-searchable").check()
    editor.get_by_test_id("tpl-save").click()
    expect(editor.get_by_test_id("tpl-saved")).to_have_text("Saved as version 2")
    expect(row.get_by_test_id("template-version")).to_have_text("2")
    editor.get_by_test_id("tpl-save").click()
    expect(editor.get_by_test_id("tpl-saved")).to_have_text("Unchanged (version 2)")

    editor.get_by_test_id("tpl-add-field").click()
    fields.nth(2).get_by_test_id("field-name").fill("9 bad")
    editor.get_by_test_id("tpl-save").click()
    error = editor.locator('[data-testid="tpl-error"][data-path="fields[2].name"]')
    expect(error).to_contain_text("Field 3, Name:")
    expect(error).to_contain_text("a letter, then up to 63 letters")
    expect(fields.nth(2).get_by_test_id("field-name")).to_have_attribute("aria-invalid", "true")
    expect(editor.get_by_test_id("tpl-saved")).to_have_count(0)
    expect(row.get_by_test_id("template-version")).to_have_text("2")

    # Registered in a batch through the API, as an engineer's tooling would.
    items = [
        {
            "handle": f"{PREFIX}/pump-{n:04}",
            "data": {"serial": f"SN-{n:04}", "madeBy": f"{PREFIX}/ids-console/lathe-02"},
        }
        for n in range(3)
    ]
    token = httpx.post(f"{site.base_url}/api/auth/token", data={"username": EMAIL, "password": PASSWORD})
    registered = httpx.post(
        f"{site.base_url}/api/identifiers/identifiers",
        json={"template": "pump", "items": items},
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
    )
    assert registered.status_code == 201 and registered.json() == {"registered": 3}, registered.text

    # Search: an exact value, then "starts with".
    page.get_by_test_id("ids-tab-tree").click()
    page.get_by_test_id("ids-tab-templates").click()
    expect(row.locator("td").nth(4)).to_have_text("3")
    page.get_by_test_id("search-template").select_option("pump")
    page.get_by_test_id("search-field").select_option("serial")
    page.get_by_test_id("search-value").fill("SN-0001")
    page.get_by_test_id("search-submit").click()
    expect(page.get_by_test_id("search-result")).to_have_text([f"{PREFIX}/pump-0001"])
    page.get_by_test_id("search-value").fill("SN-000")
    page.get_by_test_id("search-submit").click()
    expect(page.get_by_test_id("search-empty")).to_be_visible()
    page.get_by_test_id("search-prefix").check()
    page.get_by_test_id("search-submit").click()
    expect(page.get_by_test_id("search-result")).to_have_count(3)

    # A handle value links to its own resolution.
    page.get_by_test_id("search-result").nth(2).click()
    expect(page.get_by_test_id("resolve-handle")).to_have_text(f"{PREFIX}/pump-0002")
    made_by = page.locator('[data-testid="resolve-row"][data-type="madeBy"]').get_by_test_id("resolve-link")
    expect(made_by).to_have_text(f"{PREFIX}/ids-console/lathe-02")
    made_by.click()
    expect(page.get_by_test_id("resolve-handle")).to_have_text(f"{PREFIX}/ids-console/lathe-02")
    expect(page.locator('[data-testid="resolve-row"][data-type="name"]')).to_contain_text("lathe-02")

    zh = catalog("zh-CN")
    page.get_by_test_id("lang-select").select_option("zh-CN")
    expect(page.locator("h1")).to_have_text(zh["ids.title"])
    expect(page.locator('a[data-nav="identifiers"]')).to_have_text("标识解析")
    expect(page.get_by_test_id("ids-tab-templates")).to_have_text(zh["ids.tab.templates"])
    # The page came back on the identifier it was showing.
    expect(page.get_by_test_id("resolve-handle")).to_have_text(f"{PREFIX}/ids-console/lathe-02")

    _assert_clean(watch, missing)


@pytest.mark.browser
def test_prefix_tree_empty_then_drawn_with_health(
    site: Site,
    console: tuple[Any, Watch],  # noqa: F811 - the fixture imported above
) -> None:
    from playwright.sync_api import expect

    page, watch = console
    log_in(page, site.base_url, EMAIL, PASSWORD)
    page.goto(f"{site.base_url}/console/#/identifiers?tab=tree")
    expect(page.get_by_test_id("tree-empty")).to_contain_text("No identifier nodes are configured")

    identifiers = site.platform.identifiers
    assert identifiers is not None
    with Node(site.platform) as node:
        identifiers.nodes = (
            IdrNode(name="recursive", role="recursive", address="127.0.0.1:9"),
            IdrNode(name="enterprise", role="enterprise", prefix=PREFIX, address=node.address),
            IdrNode(name="top", role="top", prefix="88", address="127.0.0.1:9"),
            IdrNode(name="machinery", role="secondary", prefix="88.100", address="127.0.0.1:9"),
        )
        try:
            # The tree refreshes every 5 s, so the nodes appear without a reload.
            tree = page.get_by_test_id("prefix-tree")
            enterprise = tree.locator(
                ':scope > li > [data-name="top"] + ul > li > [data-name="machinery"] + ul > li > [data-name="enterprise"]'
            )
            expect(enterprise).to_have_attribute("data-up", "true", timeout=20_000)
            expect(enterprise.get_by_test_id("node-status")).to_have_text("Up")
            expect(enterprise.get_by_test_id("node-rtt")).to_have_text(re.compile(r"^[\d.,]+ ms$"))
            top = tree.locator(':scope > li > [data-name="top"]')
            expect(top).to_have_attribute("data-up", "false")
            expect(top.get_by_test_id("node-status")).to_have_text("Down")
            recursive = page.get_by_test_id("recursive-nodes").get_by_test_id("tree-node")
            expect(recursive).to_have_attribute("data-name", "recursive")
            expect(tree.locator('[data-name="recursive"]')).to_have_count(0)
        finally:
            identifiers.nodes = ()

    _assert_clean(watch)


def test_carriers_enrolled_watched_and_revoked_in_the_console(
    site: Site,
    console: tuple[Any, Watch],  # noqa: F811 - the fixture imported above
) -> None:
    """Trusted management: an engineer enrols a carrier for a device's identifier by its public key,
    sees its signed heartbeats arrive, and revokes it; the carrier is refused from then on."""
    from playwright.sync_api import expect

    page, watch = console
    missing = _missing_keys(page)
    device = site.device("crane-02")
    handle = f"{PREFIX}/ids-console/crane-02"
    assert httpx.post(
        f"{site.base_url}/api/identifiers/devices/{device['id']}", headers=site.headers
    ).status_code in (200, 201)
    carrier_key = keys.generate(keys.Algorithm.SM2)
    log_in(page, site.base_url, EMAIL, PASSWORD)
    page.goto(f"{site.base_url}/console/#/identifiers?tab=carriers")
    expect(page.get_by_test_id("carriers")).to_contain_text("No carrier is enrolled yet.")
    page.get_by_test_id("carrier-handle").fill(handle)
    page.get_by_test_id("carrier-key").fill(keys.public_pem(carrier_key.public_key()).decode())
    page.get_by_test_id("carrier-enrol-submit").click()
    row = page.locator(f'[data-testid="carrier-row"][data-handle="{handle}"]')
    expect(row.get_by_test_id("carrier-status")).to_have_text("active")
    # The carrier reports; its sequence number shows on the next refresh.
    heartbeats = f"{site.base_url}/api/identifiers/carriers/heartbeat"
    now = int(time.time() * 1000)
    assert (
        httpx.post(
            heartbeats, content=heartbeat(carrier_key, handle, 7, now, "ok", (30.5, 114.3))
        ).status_code
        == 202
    )
    expect(row.get_by_test_id("carrier-seq")).to_have_text("7", timeout=10_000)
    page.once("dialog", lambda dialog: dialog.accept("reported lost"))
    row.get_by_test_id("carrier-revoke").click()
    expect(row.get_by_test_id("carrier-status")).to_have_text("revoked")
    refused = httpx.post(heartbeats, content=heartbeat(carrier_key, handle, 8, now, "ok"))
    assert refused.status_code == 403 and "reported lost" in refused.json()["detail"]
    _assert_clean(watch, missing)


def test_identifier_page_text_is_in_both_catalogs() -> None:
    en, zh = catalog("en"), catalog("zh-CN")
    keys = {k for k in en if k.startswith("ids.") or k in ("nav.identifiers", "device.identifier")}
    assert len(keys) > 50 and keys <= set(zh)
    assert all(
        re.search(r"[\u4e00-\u9fff]", zh[k]) for k in ("ids.title", "ids.tab.templates", "nav.identifiers")
    )


@pytest.mark.browser
def test_ledger_tab_shows_verified_heads_witnesses_and_an_altered_entry(
    site: Site,
    console: tuple[Any, Watch],  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    """An operator opens Identifiers → Ledger: the top-level node's ledger shows as verified with its
    witness; its entries page newest first, each proved; an entry altered where the node keeps it is
    marked as not in the signed tree; a node whose key is not the pinned one is not verified."""
    from playwright.sync_api import expect

    page, watch = console
    missing = _missing_keys(page)
    ledger = Ledger(open_log(tmp_path / "top.db"), keys.generate(keys.Algorithm.SM2))
    ledger.record(
        [
            LedgerEntry(Kind.ALLOCATION, f"88.{n}", ledger.did, detail={"sites": [f"10.0.0.{n}:2641"]})
            for n in range(25)
        ]
    )
    witness = Witness(keys.generate(keys.Algorithm.ED25519), tmp_path / "witness.json")
    ledger.accept_cosignature(witness.observe(ledger.sign_head().raw, ledger.consistency).raw)
    ids = site.platform.identifiers
    assert ids is not None
    kept = ids.nodes
    with served(create_node_app(open_store(tmp_path / "top.db"), ledger=ledger)) as base:
        url = f"{base}/api/v1/ledger"
        ids.nodes = (
            IdrNode(
                name="Top", role="top", prefix="88", address="127.0.0.1:9", ledger=url, ledger_log=ledger.did
            ),
            IdrNode(
                name="Impostor", role="top", address="127.0.0.1:9", ledger=url, ledger_log="did:bid:zfOther"
            ),
        )
        try:
            log_in(page, site.base_url, EMAIL, PASSWORD)
            page.goto(f"{site.base_url}/console/#/identifiers?tab=ledger")
            top = page.locator('[data-testid="ledger-card"][data-name="Top"]')
            expect(top.get_by_test_id("ledger-verified")).to_have_text("verified")
            expect(top.get_by_test_id("ledger-size")).to_have_text("25")
            expect(top.get_by_test_id("ledger-witnesses")).to_contain_text(
                bid_of(witness.key.public_key())[:24]
            )
            impostor = page.locator('[data-testid="ledger-card"][data-name="Impostor"]')
            expect(impostor.get_by_test_id("ledger-verified")).to_have_text("not verified")
            expect(impostor).to_contain_text("pinned")

            with ledger.store.engine.begin() as conn:
                forged = LedgerEntry(Kind.ALLOCATION, "88.3", ledger.did, detail={"sites": ["6.6.6.6:2641"]})
                conn.execute(
                    update(ledger_entries).where(ledger_entries.c.seq == 3).values(body=forged.encode())
                )
            top.get_by_test_id("ledger-show").click()
            entries = page.get_by_test_id("ledger-entry")
            expect(entries).to_have_count(20)
            expect(entries.first).to_have_attribute("data-seq", "24")
            expect(entries.first.get_by_test_id("ledger-included")).to_have_text("proved")
            page.get_by_test_id("ledger-older").click()
            expect(entries).to_have_count(5)
            altered = page.locator('[data-testid="ledger-entry"][data-seq="3"]')
            expect(altered.get_by_test_id("ledger-included")).to_have_text("NOT in the signed tree")
            expect(altered).to_contain_text("6.6.6.6:2641")
            expect(page.locator('[data-testid="ledger-entry"][data-included="false"]')).to_have_count(1)
        finally:
            ids.nodes = kept
    _assert_clean(watch, missing)
