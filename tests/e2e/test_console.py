"""Browser tests of the web console (src/indunet/web/static/).

They drive Debian's Chromium through Playwright against a running indunet
server. The `live_server` fixture (tests/e2e/conftest.py) yields
`(base_url, email, password, device_id)`: the server's root URL on a loopback
address, a user of a tenant, and a device of that tenant that simulators are
feeding with numeric telemetry, so it is online and its charts move.

Every request the page makes goes through a route handler that aborts and
records any request to a host other than the loopback one: the console must
work offline (no CDN, no web fonts).

The catalog checks at the end need no browser.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

STATIC = Path(__file__).resolve().parents[2] / "src" / "indunet" / "web" / "static"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def catalog(code: str) -> dict[str, str]:
    messages: dict[str, str] = json.loads((STATIC / "locale" / f"{code}.json").read_text(encoding="utf-8"))
    return messages


@dataclass
class Watch:
    """What the page did that the tests check afterwards."""

    console_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    local_requests: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        # `make test` installs it; a run without it must not pass by testing nothing.
        pytest.fail("Debian's Chromium is not installed: run `make chromium` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def console(browser: Any) -> Iterator[tuple[Any, Watch]]:
    """A fresh page (own storage) in English, with offline guard and console capture."""
    watch = Watch()
    context = browser.new_context(locale="en-US", viewport={"width": 1366, "height": 900})

    def guard(route: Any) -> None:
        url = route.request.url
        if urlsplit(url).hostname in LOCAL_HOSTS:
            watch.local_requests.append(url)
            route.continue_()
        else:
            watch.foreign_requests.append(url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("console", lambda msg: watch.console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: watch.console_errors.append(f"uncaught: {exc}"))
    yield page, watch
    context.close()


def log_in(page: Any, base_url: str, email: str, password: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base_url.rstrip('/')}/")
    page.wait_for_url(re.compile(r"/console/#/login$"))
    page.get_by_test_id("login-email").fill(email)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(re.compile(r"#/devices$"))
    expect(page.get_by_test_id("session")).to_contain_text(email)


@pytest.mark.browser
def test_login_devices_and_live_chart(
    live_server: tuple[str, str, str, str], console: tuple[Any, Watch]
) -> None:
    from playwright.sync_api import expect

    base_url, email, password, device_id = live_server
    page, watch = console

    log_in(page, base_url, email, password)

    # The list refreshes every 5 s, so a device that comes online shortly after start still shows up.
    expect(page.locator('[data-testid="device-row"][data-status="online"]').first).to_be_visible(
        timeout=20_000
    )
    row = page.locator(f'[data-testid="device-row"][data-device-id="{device_id}"]')
    expect(row).to_be_visible()
    row.get_by_role("link").click()
    page.wait_for_url(re.compile(rf"#/devices/{re.escape(device_id)}$"))
    expect(page.get_by_test_id("twin-table")).to_be_visible()

    chart = page.locator('[data-testid^="chart-"]').first
    expect(chart).to_have_attribute("data-last-ts", re.compile(r"\d"), timeout=20_000)
    selector = f'[data-testid="chart-{chart.get_attribute("data-point")}"]'
    first_ts = chart.get_attribute("data-last-ts")
    page.wait_for_function(
        "([selector, ts]) => { const el = document.querySelector(selector);"
        " return el !== null && el.dataset.lastTs !== '' && el.dataset.lastTs !== ts; }",
        arg=[selector, first_ts],
        timeout=30_000,
    )
    assert int(page.locator(selector).get_attribute("data-points") or 0) > 0
    assert page.locator(f"{selector} canvas").count() == 1

    assert any("/api/telemetry/" in url for url in watch.local_requests)
    assert watch.foreign_requests == []
    assert watch.console_errors == []


@pytest.mark.browser
def test_language_switch_shows_chinese(
    live_server: tuple[str, str, str, str], console: tuple[Any, Watch]
) -> None:
    from playwright.sync_api import expect

    base_url, email, password, _ = live_server
    page, watch = console
    zh, en = catalog("zh-CN"), catalog("en")
    for key in ("login.title", "nav.devices", "devices.col.status"):
        assert CJK.search(zh[key]), key

    page.goto(f"{base_url.rstrip('/')}/")
    expect(page.locator("#login-title")).to_have_text(en["login.title"])
    expect(page.locator("html")).to_have_attribute("lang", "en")

    page.get_by_test_id("lang-select").select_option("zh-CN")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("#login-title")).to_have_text(zh["login.title"])
    expect(page.get_by_test_id("login-submit")).to_have_text(zh["login.submit"])

    log_in(page, base_url, email, password)
    expect(page.locator('a[data-nav="devices"]')).to_have_text(zh["nav.devices"])
    expect(page.get_by_test_id("device-table").locator("thead")).to_contain_text(zh["devices.col.status"])
    expect(page.locator("h1")).to_have_text(zh["devices.title"])

    # The choice survives a reload, and switching back gives English.
    page.reload()
    expect(page.locator('a[data-nav="devices"]')).to_have_text(zh["nav.devices"])
    page.get_by_test_id("lang-select").select_option("en")
    expect(page.locator('a[data-nav="devices"]')).to_have_text(en["nav.devices"])
    expect(page.locator("h1")).to_have_text(en["devices.title"])

    assert watch.foreign_requests == []
    assert watch.console_errors == []


@pytest.mark.browser
def test_api_reference_works_offline(
    live_server: tuple[str, str, str, str], console: tuple[Any, Watch]
) -> None:
    from playwright.sync_api import expect

    base_url = live_server[0]
    page, watch = console
    page.goto(f"{base_url.rstrip('/')}/docs")
    # Swagger UI rendered the operations of the schema: its script and styles came from this server.
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("indunet")
    expect(page.locator(".opblock-summary-path", has_text="/api/telemetry").first).to_be_visible()
    assert watch.foreign_requests == []
    assert watch.console_errors == []


# ---- catalogs (no browser) ------------------------------------------------------------------------

KEY_USE = re.compile(r"""\bt(?:Or)?\(\s*'([A-Za-z0-9_.]+)'|data-i18n(?:-[a-z-]+)?="([A-Za-z0-9_.]+)\"""")


def test_catalogs_have_the_same_keys() -> None:
    en, zh = catalog("en"), catalog("zh-CN")
    assert sorted(set(en) ^ set(zh)) == []
    assert all(isinstance(v, str) and v for v in (*en.values(), *zh.values()))


def test_every_literal_key_in_the_console_is_in_the_catalog() -> None:
    en = catalog("en")
    sources = [*STATIC.glob("js/**/*.js"), STATIC / "index.html"]
    used = {a or b for path in sources for a, b in KEY_USE.findall(path.read_text(encoding="utf-8"))}
    used.discard("key")  # the placeholder in i18n.js's doc comment
    assert used, "no keys found: has the pattern drifted from the code?"
    assert sorted(used - set(en)) == []
