"""Notifications reach a real HTTP endpoint and a real SMTP server on loopback, with retries."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest

from indunet.platform.notify import Notifier
from indunet.platform.rules import Email, Notify, Webhook

PAYLOAD = {"event": "raised", "name": "spindle overload", "severity": "critical", "device_name": "cnc-01"}


class Outcomes:
    def __init__(self) -> None:
        self.items: list[tuple[Any, bool]] = []
        self.done = threading.Event()
        self.expected = 1

    def __call__(self, target: Any, _payload: dict[str, Any], ok: bool) -> None:
        self.items.append((target, ok))
        if len(self.items) >= self.expected:
            self.done.set()


@pytest.fixture
def notifier() -> Iterator[tuple[Notifier, Outcomes]]:
    outcomes = Outcomes()
    notifier = Notifier(attempts=3, timeout_s=2.0, backoff_s=0.01)
    notifier.on_result = outcomes
    notifier.start()
    yield notifier, outcomes
    notifier.stop()


@pytest.fixture
def webhook_server() -> Iterator[tuple[str, list[dict[str, Any]], list[int]]]:
    """URL, bodies received, and status codes to answer with first (then 200)."""
    received: list[dict[str, Any]] = []
    failures: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = failures.pop(0) if failures else 200
            if status == 200:
                received.append({"body": orjson.loads(body), "auth": self.headers.get("X-Auth")})
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received, failures
    server.shutdown()
    server.server_close()


@pytest.fixture
def smtp_server() -> Iterator[tuple[str, list[str]]]:
    """A minimal SMTP server (RFC 5321 happy path) that keeps each message's data."""
    messages: list[str] = []

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.wfile.write(b"220 test ESMTP\r\n")
            while line := self.rfile.readline():
                verb = line.split(b" ", 1)[0].strip().upper()
                if verb == b"DATA":
                    self.wfile.write(b"354 go ahead\r\n")
                    data = b""
                    while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                        data += chunk
                    messages.append(data.decode())
                    self.wfile.write(b"250 queued\r\n")
                elif verb == b"QUIT":
                    self.wfile.write(b"221 bye\r\n")
                    return
                else:
                    self.wfile.write(b"250 ok\r\n")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}", messages
    server.shutdown()
    server.server_close()


def test_webhook_posts_the_alarm_as_json(
    notifier: tuple[Notifier, Outcomes], webhook_server: tuple[str, list[dict[str, Any]], list[int]]
) -> None:
    sender, outcomes = notifier
    url, received, _ = webhook_server
    sender.send(Notify(webhooks=[Webhook(url=url, headers={"X-Auth": "s3cret"})]), PAYLOAD)
    assert outcomes.done.wait(10)
    assert outcomes.items[0][1] is True
    assert received == [{"body": PAYLOAD, "auth": "s3cret"}]


def test_webhook_failures_are_retried_until_one_succeeds(
    notifier: tuple[Notifier, Outcomes], webhook_server: tuple[str, list[dict[str, Any]], list[int]]
) -> None:
    sender, outcomes = notifier
    url, received, failures = webhook_server
    failures.extend([500, 503])
    sender.send(Notify(webhooks=[Webhook(url=url)]), PAYLOAD)
    assert outcomes.done.wait(10)
    assert outcomes.items == [(Webhook(url=url), True)]
    assert len(received) == 1


def test_a_dead_target_gives_up_after_its_attempts_and_others_still_get_through(
    notifier: tuple[Notifier, Outcomes], webhook_server: tuple[str, list[dict[str, Any]], list[int]]
) -> None:
    sender, outcomes = notifier
    url, received, _ = webhook_server
    outcomes.expected = 2
    dead = Webhook(url="http://127.0.0.1:9/nobody-listens")
    sender.send(Notify(webhooks=[dead, Webhook(url=url)]), PAYLOAD)
    assert outcomes.done.wait(15)
    assert sorted((t.url, ok) for t, ok in outcomes.items) == sorted([(dead.url, False), (url, True)])
    assert len(received) == 1


def test_email_goes_through_smtp(
    notifier: tuple[Notifier, Outcomes], smtp_server: tuple[str, list[str]]
) -> None:
    sender, outcomes = notifier
    server, messages = smtp_server
    sender.send(Notify(emails=[Email(to=["ops@plant.example.cn"], server=server)]), PAYLOAD)
    assert outcomes.done.wait(10)
    assert outcomes.items[0][1] is True
    assert len(messages) == 1
    assert "To: ops@plant.example.cn" in messages[0]
    assert "spindle overload" in messages[0] and "cnc-01" in messages[0]
