"""A witness at work: check a log's head every so often, cosign what holds, stop at a split view,
and tell a platform how it goes.

The platform is told as a device of type ``ledger_witness`` would tell it, over the HTTP device API
(``POST /api/v1/{token}/telemetry`` and ``/attributes``, ThingsBoard's shape): after each check the
log's size, whether it showed a split view, and how many checks failed to reach it. Rules on that
type raise the alarms (a split view: critical; a silent witness: no data), so a split view reaches
people through the platform's own alarms, notifications and console. A platform that cannot be
reached is logged and retried with the next check: it never stops the witnessing.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from indunet.ledger.did import bid_of
from indunet.ledger.heads import Cosignature
from indunet.ledger.witness import SplitView, Witness
from indunet.security.documents import BadDocument

log = logging.getLogger(__name__)


@dataclass
class PlatformReport:
    """Where the witness reports: the platform's base URL and the witness device's access token."""

    base_url: str
    token: str
    client: httpx.Client

    def _post(self, what: str, body: dict[str, Any]) -> None:
        url = f"{self.base_url.rstrip('/')}/api/v1/{self.token}/{what}"
        try:
            self.client.post(url, json=body).raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("witness: could not report to the platform: %s", exc)

    def introduce(self, witness: str, server: str, pinned_log: str | None) -> None:
        self._post("attributes", {"witness": witness, "server": server, "log": pinned_log or ""})

    def checked(self, size: int | None, split_view: bool, fetch_errors: int) -> None:
        values: dict[str, Any] = {"split_view": int(split_view), "fetch_errors": fetch_errors}
        if size is not None:
            values["ledger_size"] = size
        self._post("telemetry", values)


@dataclass
class Watch:
    witness: Witness
    server: str
    client: httpx.Client
    pinned_log: str | None = None
    report: PlatformReport | None = None
    audit_entries: bool = False
    """Also fetch and check every entry added since the last check (see :class:`Witness`)."""
    fetch_errors: int = 0
    on_cosigned: Callable[[Cosignature], None] = field(default=lambda _c: None)
    on_error: Callable[[Exception], None] = field(default=lambda _e: None)

    def __post_init__(self) -> None:
        if self.report is not None:
            self.report.introduce(bid_of(self.witness.key.public_key()), self.server, self.pinned_log)

    def once(self) -> bool:
        """One check; False when it could not reach or read the log. SplitView propagates, after
        the platform was told and the evidence written next to the witness's state file."""
        try:
            cosignature = self.witness.check_server(
                self.server, self.client, self.pinned_log, entries=self.audit_entries
            )
        except SplitView as split:
            evidence = Path(f"{self.witness.state_path}.split-view-{int(time.time())}.json")
            evidence.write_text(json.dumps(split.evidence(), indent=1, ensure_ascii=False))
            split.evidence_path = evidence
            if self.report is not None:
                self.report.checked(None, True, self.fetch_errors)
            raise
        except (httpx.HTTPError, BadDocument) as exc:
            self.fetch_errors += 1
            if self.report is not None:
                self.report.checked(None, False, self.fetch_errors)
            self.on_error(exc)
            return False
        if self.report is not None:
            self.report.checked(cosignature.size, False, self.fetch_errors)
        self.on_cosigned(cosignature)
        return True

    def run(self, every: float, stop: threading.Event) -> None:
        """Check every ``every`` seconds until ``stop`` is set or a split view ends it (raised)."""
        while not stop.is_set():
            self.once()
            stop.wait(every)
