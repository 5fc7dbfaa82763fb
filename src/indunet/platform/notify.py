"""Alarm notifications by webhook (HTTP POST of JSON) and e-mail (SMTP), retried with backoff.

Sending happens on the notifier's own thread: ``send`` only queues, so a slow or dead target never
holds up rule evaluation. A failed delivery is tried again after 1 s, 2 s, 4 s ... up to
``attempts`` tries, each bounded by ``timeout_s``; other deliveries go ahead meanwhile (retries wait
in a time-ordered heap, not in a sleeping thread). What finally fails is logged.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import smtplib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import httpx
import orjson

from indunet.platform.rules.model import Email, Notify, Webhook

log = logging.getLogger(__name__)

MAX_QUEUED = 10_000


@dataclass(order=True, slots=True)
class _Delivery:
    due: float
    seq: int
    target: Webhook | Email = field(compare=False)
    payload: dict[str, Any] = field(compare=False)
    attempt: int = field(default=1, compare=False)


class Notifier:
    def __init__(self, attempts: int = 4, timeout_s: float = 5.0, backoff_s: float = 1.0) -> None:
        self.attempts = attempts
        self.timeout_s = timeout_s
        self.backoff_s = backoff_s
        self._heap: list[_Delivery] = []
        self._seq = itertools.count()
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._http: httpx.Client | None = None
        # Outcomes (target, payload, ok) for whoever wants to watch deliveries, e.g. tests.
        self.on_result: Callable[[Webhook | Email, dict[str, Any], bool], None] | None = None

    def start(self) -> None:
        self._http = httpx.Client(timeout=self.timeout_s, follow_redirects=False)
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="alarm-notifier", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout_s + 1)
            self._thread = None
        if self._http is not None:
            self._http.close()
            self._http = None

    def send(self, notify: Notify, payload: dict[str, Any]) -> None:
        targets: list[Webhook | Email] = [*notify.webhooks, *notify.emails]
        if not targets:
            return
        with self._wake:
            if len(self._heap) + len(targets) > MAX_QUEUED:
                log.error("notification queue full; dropping %d notifications", len(targets))
                return
            for target in targets:
                heapq.heappush(self._heap, _Delivery(time.monotonic(), next(self._seq), target, payload))
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopping and (not self._heap or self._heap[0].due > time.monotonic()):
                    wait = self._heap[0].due - time.monotonic() if self._heap else None
                    self._wake.wait(wait)
                if self._stopping:
                    return
                delivery = heapq.heappop(self._heap)
            self._attempt(delivery)

    def _attempt(self, delivery: _Delivery) -> None:
        try:
            if isinstance(delivery.target, Webhook):
                self._post(delivery.target, delivery.payload)
            else:
                self._mail(delivery.target, delivery.payload)
        except Exception as exc:
            if delivery.attempt >= self.attempts:
                log.error(
                    "notification to %s failed after %d tries: %s",
                    _label(delivery.target),
                    delivery.attempt,
                    exc,
                )
                self._report(delivery, ok=False)
                return
            delivery.due = time.monotonic() + self.backoff_s * 2 ** (delivery.attempt - 1)
            delivery.attempt += 1
            with self._wake:
                heapq.heappush(self._heap, delivery)
            return
        self._report(delivery, ok=True)

    def _report(self, delivery: _Delivery, ok: bool) -> None:
        if self.on_result is not None:
            self.on_result(delivery.target, delivery.payload, ok)

    def _post(self, target: Webhook, payload: dict[str, Any]) -> None:
        assert self._http is not None
        response = self._http.post(
            target.url,
            content=orjson.dumps(payload),
            headers={**target.headers, "Content-Type": "application/json"},
        )
        response.raise_for_status()

    def _mail(self, target: Email, payload: dict[str, Any]) -> None:
        host, port = target.server.rsplit(":", 1)
        message = EmailMessage()
        message["From"] = target.sender
        message["To"] = ", ".join(target.to)
        # Alarms are named by rule and device; other senders (safety warnings) give their own subject.
        message["Subject"] = payload.get("subject") or (
            f"[indunet {payload.get('severity', '')}] {payload.get('event', '')}: "
            f"{payload.get('name', '')} on {payload.get('device_name') or payload.get('device_id')}"
        )
        message.set_content(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode())
        with smtplib.SMTP(host.strip("[]"), int(port), timeout=self.timeout_s) as smtp:
            smtp.send_message(message)


def _label(target: Webhook | Email) -> str:
    return target.url if isinstance(target, Webhook) else f"mailto:{','.join(target.to)}"
