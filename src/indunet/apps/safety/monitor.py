"""The safety monitor: assesses the units of every tenant on committed telemetry and keeps their warnings.

Like the rule engine it is a ``BatchWorker``: it listens to committed batches and only queues them;
its worker thread feeds the evaluator (``assess.py``), assesses the units whose points moved and
applies each assessment to the unit's warning (``warnings.observe``), which writes only on a change.
Once per ``tick_s`` it assesses every unit again with no new sample (time escalation, trends of points
that went quiet), and every ``context_s`` it reads what the units' points cannot say: open alarms of
the units' devices that are not the templates' own (a PHM detector's, a no-data rule's), the health
PHM writes, the failure history. Opened and escalated warnings are sent to the enterprise's
notification targets for that level. Configuration is reloaded when the registry changes in this
process and at least every ``reload_s`` for changes made by another.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from indunet.apps.safety import failures, library, registry, warnings
from indunet.apps.safety.assess import Assessment, Evaluator, Reason, WatchedPoint
from indunet.apps.safety.features import FeatureSet
from indunet.apps.safety.levels import BLUE, YELLOW, colour
from indunet.core.timeutil import now_us, to_rfc3339
from indunet.platform.batch_worker import BatchWorker
from indunet.platform.notify import Notifier
from indunet.platform.rules import Notify
from indunet.platform.runtime import Platform, StoredSample
from indunet.store.metadata import series
from indunet.store.rules_alarms import alarms
from indunet.store.safety import safety_enterprises, safety_points, safety_units
from indunet.store.timeseries import MAX_SERIES_PER_CALL

log = logging.getLogger(__name__)

MAX_QUEUED_BATCHES = 100_000
COALESCE = 100
SYNC_WORK_ORDERS_S = 60.0
"""Completed work orders reach the failure database within this; nothing waits on them sooner."""
SEED_WITHIN_US = 300 * 1_000_000
"""A stored sample younger than this says what a point reads now."""
HEALTH_POINT = "health"
_ALARM_LEVELS = {"critical": YELLOW, "major": BLUE, "minor": BLUE, "warning": BLUE}


@dataclass
class _Tenant:
    evaluator: Evaluator
    enterprise_of: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    """Names of the tenant's units and enterprises by id, for notifications."""
    units_of_device: dict[str, set[str]] = field(default_factory=dict)
    template_rules: set[str] = field(default_factory=set)
    notify: dict[str, list[tuple[set[int], Notify]]] = field(default_factory=dict)
    open: dict[str, warnings.OpenWarning] = field(default_factory=dict)
    health: dict[str, dict[str, float]] = field(default_factory=dict)
    loaded: float = 0.0
    context_at: float = 0.0
    last: dict[str, Assessment] = field(default_factory=dict)
    fingerprint: tuple[Any, ...] = ()
    synced_at: float = float("-inf")


class SafetyMonitor(BatchWorker):
    def __init__(
        self,
        platform: Platform,
        notifier: Notifier | None = None,
        tick_s: float = 1.0,
        reload_s: float = 10.0,
        context_s: float = 5.0,
    ) -> None:
        super().__init__("safety-monitor", tick_s, MAX_QUEUED_BATCHES, coalesce=COALESCE)
        self.platform = platform
        self.notifier = notifier or Notifier()
        self.reload_s = reload_s
        self.context_s = context_s
        self._tenants: dict[str, _Tenant] = {}
        self._stale: set[str] = set()
        self._lock = threading.Lock()
        self._unsubscribe: list[Callable[[], None]] = []
        self._last_scan = 0.0
        # Called with every assessment, in the worker thread (benchmarks, tests).
        self.on_assessment: Callable[[Assessment], None] | None = None

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> None:
        self.notifier.start()
        self._unsubscribe = [
            registry.on_change(self._changed),
            warnings.on_step(self._changed),
            library.on_import(self._changed),
        ]
        self._start_worker()
        self.platform.telemetry_listeners.append(self.submit)

    def stop(self) -> None:
        if self.submit in self.platform.telemetry_listeners:
            self.platform.telemetry_listeners.remove(self.submit)
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        self._stop_worker()
        self.notifier.stop()

    def last(self, tenant_id: str) -> dict[str, Assessment]:
        """The latest assessment of each unit of the tenant (live views)."""
        state = self._tenants.get(tenant_id)
        return dict(state.last) if state else {}

    def _changed(self, platform: Platform, tenant_id: str) -> None:
        if platform is self.platform:
            with self._lock:
                self._stale.add(tenant_id)

    # -- worker --------------------------------------------------------------------------------------
    def _tenant(self, tenant_id: str) -> _Tenant:
        with self._lock:
            stale = tenant_id in self._stale
            self._stale.discard(tenant_id)
        state = self._tenants.get(tenant_id)
        if state is None or stale:
            state = self._load(tenant_id, state)
            self._tenants[tenant_id] = state
        elif time.monotonic() - state.loaded > self.reload_s:
            # Changes made by other processes: reading every point again costs a noticeable pause at
            # ten thousand points, so only when the registry's fingerprint moved.
            if registry.fingerprint(self.platform, tenant_id) != state.fingerprint:
                state = self._load(tenant_id, state)
            else:
                state.open = warnings.open_warnings(self.platform, tenant_id)
                state.loaded = time.monotonic()
        return state

    def _load(self, tenant_id: str, old: _Tenant | None) -> _Tenant:
        fingerprint = registry.fingerprint(self.platform, tenant_id)
        units, points, enterprise_of = registry.watch_config(self.platform, tenant_id)
        features = FeatureSet(library.active(self.platform, tenant_id))
        evaluator = old.evaluator if old is not None else Evaluator()
        evaluator.features = features
        evaluator.load(units, points)
        if old is None:
            self._seed(tenant_id, evaluator, points)
        state = old or _Tenant(evaluator)
        state.enterprise_of = enterprise_of
        state.fingerprint = fingerprint
        state.units_of_device = defaultdict(set)
        for point in points:
            state.units_of_device[point.device_id].add(point.unit_id)
        with self.platform.engine.connect() as conn:
            state.template_rules = {
                rule_id
                for ids in conn.execute(
                    select(safety_points.c.rule_ids).where(safety_points.c.tenant_id == tenant_id)
                ).scalars()
                for rule_id in ids
            }
            state.names = {
                row.id: row.name
                for table in (safety_units, safety_enterprises)
                for row in conn.execute(
                    select(table.c.id, table.c.name).where(table.c.tenant_id == tenant_id)
                )
            }
            state.notify = {
                row.id: [(set(rule["levels"]), Notify.model_validate(rule["notify"])) for rule in row.notify]
                for row in conn.execute(
                    select(safety_enterprises.c.id, safety_enterprises.c.notify).where(
                        safety_enterprises.c.tenant_id == tenant_id
                    )
                )
            }
        # People's steps (assign stops time escalation, close ends the warning) are read back here.
        state.open = warnings.open_warnings(self.platform, tenant_id)
        state.loaded = time.monotonic()
        state.context_at = 0.0
        return state

    def _seed(self, tenant_id: str, evaluator: Evaluator, points: list[WatchedPoint]) -> None:
        """Start from each point's latest stored sample when it is recent: after a restart the units'
        conditions are known at once instead of when their devices next report."""
        keys = {(p.device_id, p.point) for p in points}
        with self.platform.engine.connect() as conn:
            sids = {
                row.id: (row.device_id, row.point)
                for row in conn.execute(
                    select(series.c.id, series.c.device_id, series.c.point).where(
                        series.c.tenant_id == tenant_id
                    )
                )
                if (row.device_id, row.point) in keys
            }
        ids, recent = list(sids), now_us() - SEED_WITHIN_US
        samples = []
        for first in range(0, len(ids), MAX_SERIES_PER_CALL):
            for sid, (ts, num, _text) in self.platform.timeseries.latest(
                ids[first : first + MAX_SERIES_PER_CALL]
            ).items():
                if ts >= recent and num is not None:
                    device_id, point = sids[sid]
                    samples.append(StoredSample(tenant_id, device_id, "", point, ts, num, None))
        samples.sort(key=lambda s: s.ts_us)
        evaluator.on_samples(samples)

    def _evaluate(self, samples: list[StoredSample]) -> None:
        by_tenant: dict[str, list[StoredSample]] = defaultdict(list)
        for sample in samples:
            by_tenant[sample.tenant_id].append(sample)
        for tenant_id, own in by_tenant.items():
            state = self._tenant(tenant_id)
            if not state.enterprise_of:
                continue
            own.sort(key=lambda s: s.ts_us)
            touched = state.evaluator.on_samples(own)
            touched |= self._health(state, own)
            now = own[-1].ts_us
            for unit_id in touched:
                self._observe(tenant_id, state, unit_id, now)

    def _health(self, state: _Tenant, samples: list[StoredSample]) -> set[str]:
        """Health that PHM writes for a unit's equipment, as the unit's ``health`` variable (its worst)."""
        touched: set[str] = set()
        for sample in samples:
            if sample.point != HEALTH_POINT or sample.num is None:
                continue
            for unit_id in state.units_of_device.get(sample.device_id, ()):
                state.health.setdefault(unit_id, {})[sample.device_id] = sample.num
                touched.add(unit_id)
        return touched

    def _ticks(self, now: int) -> None:
        if time.monotonic() - self._last_scan > self.reload_s:
            for tenant_id in registry.tenants_with_units(self.platform):
                self._tenant(tenant_id)
            self._last_scan = time.monotonic()
        for tenant_id in list(self._tenants):
            state = self._tenant(tenant_id)
            if time.monotonic() - state.context_at >= self.context_s:
                self._context(tenant_id, state)
            for unit_id in state.evaluator.unit_ids:
                self._observe(tenant_id, state, unit_id, now)

    def _context(self, tenant_id: str, state: _Tenant) -> None:
        state.context_at = time.monotonic()
        devices = list(state.units_of_device)
        found: dict[str, list[Reason]] = defaultdict(list)
        if devices:
            with self.platform.engine.connect() as conn:
                rows = conn.execute(
                    select(
                        alarms.c.id, alarms.c.rule_id, alarms.c.device_id, alarms.c.name, alarms.c.severity
                    ).where(
                        alarms.c.tenant_id == tenant_id,
                        alarms.c.status.in_(("active", "acknowledged")),
                        alarms.c.device_id.in_(devices),
                    )
                ).all()
            for row in rows:
                level = _ALARM_LEVELS.get(row.severity)
                if row.rule_id in state.template_rules or level is None:
                    continue
                for unit_id in state.units_of_device.get(row.device_id, ()):
                    found[unit_id].append(
                        Reason(f"alarm.{row.severity}", level, details={"alarm": row.id, "rule": row.name})
                    )
        for unit_id in state.evaluator.unit_ids:
            health = state.health.get(unit_id)
            variables = {"health": min(health.values())} if health else {}
            state.evaluator.context(unit_id, found.get(unit_id, ()), variables)
        if time.monotonic() - state.synced_at >= SYNC_WORK_ORDERS_S:
            state.synced_at = time.monotonic()
            try:
                failures.sync_work_orders(self.platform, tenant_id)
            except Exception:
                log.exception("failure database: work orders not synchronised")

    def _observe(self, tenant_id: str, state: _Tenant, unit_id: str, now: int) -> None:
        assessment = state.evaluator.assess(unit_id, now)
        state.last[unit_id] = assessment
        if self.on_assessment is not None:
            self.on_assessment(assessment)
        current = state.open.get(unit_id)
        if current is None and assessment.level is None:
            return
        if current is not None and not assessment.known:
            return  # just started and nothing reported yet: the open warning's conditions are unknown
        enterprise_id = state.enterprise_of.get(unit_id)
        if enterprise_id is None:
            return
        updated, changes = warnings.observe(self.platform, tenant_id, enterprise_id, current, assessment)
        if updated is None:
            state.open.pop(unit_id, None)
        else:
            state.open[unit_id] = updated
        for change in changes:
            self._notify(tenant_id, state, enterprise_id, unit_id, change)

    def _notify(
        self, tenant_id: str, state: _Tenant, enterprise_id: str, unit_id: str, change: warnings.Change
    ) -> None:
        unit, enterprise = state.names.get(unit_id, unit_id), state.names.get(enterprise_id, enterprise_id)
        label = warnings.label(change.number)
        payload: dict[str, Any] = {
            "event": f"safety_warning_{change.kind}",
            "subject": f"[indunet {colour(change.level)}] {label} {change.kind}: {enterprise}/{unit}",
            "tenant_id": tenant_id,
            "warning": label,
            "level": change.level,
            "colour": colour(change.level),
            "cause": change.cause,
            "enterprise": enterprise,
            "unit": unit,
            "unit_id": unit_id,
            "reasons": change.reasons,
            "sent_at": to_rfc3339(now_us()),
        }
        for levels, notify in state.notify.get(enterprise_id, []):
            if change.level in levels:
                self.notifier.send(notify, payload)
