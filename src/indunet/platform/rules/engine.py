"""The rule engine: evaluates every committed telemetry batch against the tenant's rules.

The telemetry listener only puts the batch on a queue, so ingest pays one ``put`` per batch; one
worker thread evaluates (``Evaluator``) and writes alarm transitions, and once per ``tick_s`` runs
the time-driven checks (no-data timeouts, ``for_s`` delays). Rules are cached per tenant, dropped
when they change in this process and reloaded at least every ``reload_s`` so changes made by another
process are seen too. Notifications go to the ``Notifier``'s own thread.

In a rule worker of a NATS deployment the engine evaluates only the devices of the rule partitions
the worker holds (``owns``, changed with ``assign``): another worker has the samples of the others,
so their no-data clocks and hysteresis state must not run here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable

from indunet.core.timeutil import now_us, to_rfc3339
from indunet.platform import alarms
from indunet.platform.batch_worker import BatchWorker
from indunet.platform.notify import Notifier
from indunet.platform.rules.evaluate import CompiledRule, Evaluator, Transition
from indunet.platform.rules.service import load_enabled, on_change, tenants_with_rules
from indunet.platform.runtime import Platform, StoredSample

log = logging.getLogger(__name__)

MAX_QUEUED_BATCHES = 100_000


def _nothing() -> None:
    return None


def _every_device(_device_id: str) -> bool:
    return True


class RuleEngine(BatchWorker):
    def __init__(
        self,
        platform: Platform,
        notifier: Notifier | None = None,
        tick_s: float = 1.0,
        reload_s: float = 10.0,
        owns: Callable[[str], bool] = _every_device,
    ) -> None:
        super().__init__("rule-engine", tick_s, MAX_QUEUED_BATCHES)
        self.platform = platform
        self.notifier = notifier or Notifier()
        self.reload_s = reload_s
        self._evaluator = Evaluator()
        self._rules: dict[str, tuple[float, list[CompiledRule]]] = {}
        self._stale: set[str] = set()
        self._lock = threading.Lock()
        self._unsubscribe: Callable[[], None] = _nothing
        self._last_scan = 0.0
        self._owns = owns
        self._assigned: Callable[[str], bool] | None = None

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> None:
        self.notifier.start()
        self._unsubscribe = on_change(self._rules_changed)
        self._start_worker()
        self.platform.telemetry_listeners.append(self.submit)

    def stop(self) -> None:
        if self.submit in self.platform.telemetry_listeners:
            self.platform.telemetry_listeners.remove(self.submit)
        self._unsubscribe()
        self._stop_worker()
        self.notifier.stop()

    def assign(self, owns: Callable[[str], bool]) -> None:
        """From the next tick on, keep state only for the devices ``owns`` accepts."""
        with self._lock:
            self._assigned = owns

    # -- worker --------------------------------------------------------------------------------------
    def _rules_changed(self, platform: Platform, tenant_id: str) -> None:
        if platform is self.platform:
            with self._lock:
                self._stale.add(tenant_id)

    def _rules_for(self, tenant_id: str) -> list[CompiledRule]:
        with self._lock:
            stale = tenant_id in self._stale
            self._stale.discard(tenant_id)
        cached = self._rules.get(tenant_id)
        if cached is None or stale or time.monotonic() - cached[0] > self.reload_s:
            rules = load_enabled(self.platform, tenant_id)
            known = {r.id: r for r in rules}
            for old in cached[1] if cached else []:
                if known.get(old.id) != old:
                    self._evaluator.forget_rule(old.id)
            now = now_us()
            for rule in rules:
                if rule.device_id is not None and self._owns(rule.device_id):
                    self._evaluator.watch(rule, rule.device_id, now)
            self._rules[tenant_id] = (time.monotonic(), rules)
            return rules
        return cached[1]

    def _evaluate(self, samples: list[StoredSample]) -> None:
        by_device: dict[tuple[str, str, str], list[StoredSample]] = defaultdict(list)
        for sample in samples:
            by_device[(sample.tenant_id, sample.device_id, sample.type_name)].append(sample)
        for (tenant_id, device_id, type_name), own in by_device.items():
            rules = [
                r
                for r in self._rules_for(tenant_id)
                if r.type_name == type_name and r.device_id in (None, device_id)
            ]
            if not rules:
                continue
            own.sort(key=lambda s: s.ts_us)
            for rule in rules:
                self._evaluator.watch(rule, device_id, own[0].ts_us)
                for transition in self._evaluator.on_samples(rule, device_id, own):
                    self._write(transition)

    def _ticks(self, now: int) -> None:
        with self._lock:
            assigned, self._assigned = self._assigned, None
        if assigned is not None:
            self._reassign(assigned, now)
        if time.monotonic() - self._last_scan > self.reload_s:
            # Tenants whose devices have not sent anything yet still need their no-data checks.
            for tenant_id in tenants_with_rules(self.platform):
                self._rules.setdefault(tenant_id, (0.0, []))
            self._last_scan = time.monotonic()
        for tenant_id in list(self._rules):
            for rule in self._rules_for(tenant_id):
                for transition in self._evaluator.on_tick(rule, now):
                    self._write(transition)

    def _reassign(self, owns: Callable[[str], bool], now: int) -> None:
        self._owns = owns
        self._evaluator.forget_devices(owns)
        for _loaded, rules in self._rules.values():
            for rule in rules:
                if rule.device_id is not None and owns(rule.device_id):
                    self._evaluator.watch(rule, rule.device_id, now)

    def _write(self, transition: Transition) -> None:
        alarm, outcome = alarms.apply(self.platform, transition)
        if alarm is not None and outcome in ("created", "cleared"):
            event = "raised" if outcome == "created" else "cleared"
            self.notifier.send(
                transition.rule.notify,
                {
                    **alarm,
                    "event": event,
                    "tenant_id": transition.rule.tenant_id,
                    "sent_at": to_rfc3339(now_us()),
                },
            )
