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
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable

from indunet.core.timeutil import now_us, to_rfc3339
from indunet.platform import alarms
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


class _Tick:
    """A request for the time-driven checks; ``queued`` when it came through the queue."""

    __slots__ = ("now", "queued")

    def __init__(self, now: int, queued: bool = False) -> None:
        self.now = now
        self.queued = queued


class RuleEngine:
    def __init__(
        self,
        platform: Platform,
        notifier: Notifier | None = None,
        tick_s: float = 1.0,
        reload_s: float = 10.0,
        owns: Callable[[str], bool] = _every_device,
    ) -> None:
        self.platform = platform
        self.notifier = notifier or Notifier()
        self.tick_s = tick_s
        self.reload_s = reload_s
        self._queue: queue.Queue[list[StoredSample] | _Tick | None] = queue.Queue(MAX_QUEUED_BATCHES)
        self._evaluator = Evaluator()
        self._rules: dict[str, tuple[float, list[CompiledRule]]] = {}
        self._stale: set[str] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] = _nothing
        self._last_tick = 0.0
        self._last_scan = 0.0
        self._owns = owns
        self._assigned: Callable[[str], bool] | None = None

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> None:
        self.notifier.start()
        self._unsubscribe = on_change(self._rules_changed)
        self._thread = threading.Thread(target=self._run, name="rule-engine", daemon=True)
        self._thread.start()
        self.platform.telemetry_listeners.append(self.submit)

    def stop(self) -> None:
        if self.submit in self.platform.telemetry_listeners:
            self.platform.telemetry_listeners.remove(self.submit)
        self._unsubscribe()
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._thread = None
        self.notifier.stop()

    def submit(self, samples: list[StoredSample]) -> None:
        """The telemetry listener: hand over and return."""
        if samples:
            try:
                self._queue.put_nowait(samples)
            except queue.Full:
                log.error("rule engine queue full; %d samples not evaluated", len(samples))

    def assign(self, owns: Callable[[str], bool]) -> None:
        """From the next tick on, keep state only for the devices ``owns`` accepts."""
        with self._lock:
            self._assigned = owns

    def drain(self) -> None:
        """Until every batch queued so far is evaluated and its alarms written (a rule worker
        acknowledges the bus messages only then)."""
        self._queue.join()

    def wait_idle(self, timeout_s: float = 10.0) -> bool:
        """Until every batch queued so far is evaluated and written (tests, benchmarks)."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.002)
        return not self._queue.unfinished_tasks

    def tick(self, now: int | None = None) -> None:
        """Run the time-driven checks now (the worker does this every ``tick_s``)."""
        self._queue.put(_Tick(now if now is not None else now_us(), queued=True))

    # -- worker --------------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self.tick_s)
            except queue.Empty:
                item = _Tick(now_us())
            if item is None:
                self._queue.task_done()
                return
            try:
                if isinstance(item, _Tick):
                    self._ticks(item.now)
                else:
                    self._evaluate(item)
                    if time.monotonic() - self._last_tick >= self.tick_s:
                        self._ticks(now_us())
            except Exception:
                # A failing batch (database down, a bug in one rule) must not stop evaluation for good.
                log.exception("rule evaluation failed")
            finally:
                if not isinstance(item, _Tick) or item.queued:
                    self._queue.task_done()

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
        self._last_tick = time.monotonic()
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
