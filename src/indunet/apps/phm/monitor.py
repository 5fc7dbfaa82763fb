"""The PHM monitor: runs the production models on committed telemetry and writes what they say back
as the device's telemetry: detectors' scores as ``phm_anomaly`` (where the rule the registry made
raises the alarm), remaining-useful-life models' predictions as ``rul``, ``rul_lower``, ``rul_upper``
and ``health`` after every cycle, opening a work order when the interval's lower end falls below the
model's threshold.

Like the rule engine it listens to committed batches and only queues them (ingest pays one ``put``),
and one worker thread assembles rows (rows.RowAssembler), scores them and writes the scores in one
ingest call per batch. Scores go through the platform's ingest like any telemetry, so they are
stored, charted, retained and evaluated by the rules the same way. Production models are reloaded
when the registry changes in this process and at least every ``reload_s`` for changes made by
another.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from indunet.apps.phm import anomaly, registry, saved, work_orders
from indunet.apps.phm.histories import ModelError
from indunet.apps.phm.lifetimes import Binding, LifeTracker, rebuild
from indunet.apps.phm.rows import RowAssembler, stored_rows
from indunet.core.errors import IndunetError
from indunet.core.timeutil import parse_timestamp
from indunet.platform import telemetry
from indunet.platform.devices import resolve
from indunet.platform.runtime import Platform, StoredSample
from indunet.security import Principal

log = logging.getLogger(__name__)

MAX_QUEUED_BATCHES = 10_000


@dataclass
class Deployed:
    name: str
    version: int
    detector: anomaly.Detector
    rows: RowAssembler


@dataclass
class LifeModel:
    name: str
    version: int
    tracker: LifeTracker


def deploy_life(model: dict[str, Any]) -> LifeModel:
    document = model["document"]
    try:
        rul_model = saved.from_dict(document["model"])
        binding = Binding.from_dict(document["binding"])
    except (KeyError, TypeError, ValueError) as exc:
        raise anomaly.DetectorError(f"unreadable model document: {exc}") from None
    return LifeModel(model["name"], model["version"], LifeTracker(rul_model, binding))


def deploy(platform: Platform, model: dict[str, Any]) -> Deployed:
    """A production model ready to score; a stream detector learns again from its lineage window."""
    lineage = model["lineage"]
    training = None
    if model["kind"] == "stream":
        device = resolve(platform, model["tenant_id"], model["target_device"])
        _, training = stored_rows(
            platform,
            device,
            lineage["points"],
            parse_timestamp(lineage["start"]),
            parse_timestamp(lineage["end"]),
        )
    detector = anomaly.restore(model["document"], training)
    return Deployed(model["name"], model["version"], detector, RowAssembler(detector.inputs))


class PhmMonitor:
    def __init__(self, platform: Platform, reload_s: float = 30.0) -> None:
        self.platform = platform
        self.reload_s = reload_s
        self._queue: queue.Queue[list[StoredSample] | None] = queue.Queue(MAX_QUEUED_BATCHES)
        self._by_device: dict[str, list[Deployed]] = {}
        self._by_type: dict[tuple[str, str], list[LifeModel]] = {}
        self._loaded = 0.0
        self._stale = True
        self._thread: threading.Thread | None = None
        self._unsubscribe = registry.on_change(self._registry_changed)

    def start(self) -> None:
        self.platform.telemetry_listeners.append(self._on_batch)
        self._thread = threading.Thread(target=self._run, name="phm-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._on_batch in self.platform.telemetry_listeners:
            self.platform.telemetry_listeners.remove(self._on_batch)
        self._unsubscribe()
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def drain(self, timeout_s: float = 10.0) -> None:
        """Wait until every queued batch is scored (tests, orderly shutdown)."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    # -- listener (ingesting thread) -----------------------------------------------------------------
    def _on_batch(self, samples: list[StoredSample]) -> None:
        if not self._by_device and not self._by_type and not self._stale:
            return
        try:
            self._queue.put_nowait(samples)
        except queue.Full:
            log.warning("PHM monitor queue full; a batch of %d samples is not scored", len(samples))

    def _registry_changed(self, _tenant_id: str) -> None:
        self._stale = True

    # -- worker --------------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            batch = self._queue.get()
            try:
                if batch is None:
                    return
                self._reload_if_due()
                self._score(batch)
            except Exception:
                # One bad batch (a store that is down, a model that fails) must not end monitoring.
                log.exception("PHM monitor failed on a batch")
            finally:
                self._queue.task_done()

    def _reload_if_due(self) -> None:
        if not self._stale and time.monotonic() - self._loaded < self.reload_s:
            return
        self._stale = False
        self._loaded = time.monotonic()
        current: dict[tuple[str, int], Deployed | LifeModel] = {
            (d.name, d.version): d for group in self._by_device.values() for d in group
        }
        current.update({(d.name, d.version): d for group in self._by_type.values() for d in group})
        by_device: dict[str, list[Deployed]] = defaultdict(list)
        by_type: dict[tuple[str, str], list[LifeModel]] = defaultdict(list)
        for model in registry.in_production(self.platform):
            deployed = current.get((model["name"], model["version"]))
            try:
                if model["kind"] == registry.RUL:
                    life = deployed if isinstance(deployed, LifeModel) else deploy_life(model)
                    by_type[(model["tenant_id"], model["target_type"])].append(life)
                else:
                    detector = deployed if isinstance(deployed, Deployed) else deploy(self.platform, model)
                    by_device[model["target_device"]].append(detector)
            except (IndunetError, anomaly.DetectorError, ModelError) as exc:
                log.error("PHM model %s v%s cannot run: %s", model["name"], model["version"], exc)
        self._by_device = dict(by_device)
        self._by_type = dict(by_type)

    def _score(self, samples: list[StoredSample]) -> None:
        by_device = self._by_device
        mine: dict[str, list[StoredSample]] = defaultdict(list)
        for sample in samples:
            if sample.device_id in by_device:
                mine[sample.device_id].append(sample)
        records: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for device_id, found in mine.items():
            found.sort(key=lambda s: s.ts_us)
            for deployed in by_device[device_id]:
                # Rows in time order: a row at ``t`` is complete once a later time's samples begin.
                pending: int | None = None
                for sample in found:
                    if pending is not None and sample.ts_us != pending:
                        self._emit(deployed, device_id, pending, records[sample.tenant_id])
                        pending = None
                    if deployed.rows.update(sample.point, sample.ts_us, sample.num):
                        pending = sample.ts_us
                if pending is not None:
                    self._emit(deployed, device_id, pending, records[found[0].tenant_id])
        self._lives(samples, records)
        for tenant_id, written in records.items():
            if not written:
                continue
            result = telemetry.ingest(self.platform, Principal.system(tenant_id, label="system:phm"), written)
            if result.rejected:
                log.warning("PHM scores refused: %s", result.rejected[:3])

    def _lives(self, samples: list[StoredSample], records: dict[str, list[dict[str, Any]]]) -> None:
        by_type = self._by_type
        if not by_type:
            return
        for (tenant_id, type_name), lives in by_type.items():
            for life in lives:
                self._live(
                    life,
                    [s for s in samples if s.tenant_id == tenant_id and s.type_name == type_name],
                    records,
                )

    def _live(
        self, life: LifeModel, samples: list[StoredSample], records: dict[str, list[dict[str, Any]]]
    ) -> None:
        tracker = life.tracker
        counter = tracker.binding.cycle_point
        # In time order, and within a time the counter last: it closes the cycle the others belong to.
        for sample in sorted(samples, key=lambda s: (s.ts_us, s.point == counter)):
            if sample.device_id not in tracker.lives:
                device = resolve(self.platform, sample.tenant_id, sample.device_id)
                rebuild(self.platform, device, tracker, sample.ts_us)
            if not tracker.update(sample.device_id, sample.point, sample.ts_us, sample.num):
                continue
            rul, lower, upper, health = tracker.predict(sample.device_id)
            values = {"rul": rul, "rul_lower": lower, "rul_upper": upper, "health": health}
            records[sample.tenant_id].append(
                {"device": sample.device_id, "ts": sample.ts_us, "values": values}
            )
            threshold = tracker.binding.work_order_below
            if threshold > 0 and lower < threshold:
                order, opened = work_orders.for_prediction(
                    self.platform,
                    sample.tenant_id,
                    sample.device_id,
                    f"{life.name} v{life.version}",
                    rul,
                    lower,
                    threshold,
                    sample.ts_us,
                    tracker.cycle_seconds(sample.device_id),
                )
                if opened:
                    log.info("PHM opened %s for %s", order["reference"], sample.device_id)

    @staticmethod
    def _emit(deployed: Deployed, device_id: str, ts_us: int, out: list[dict[str, Any]]) -> None:
        row = deployed.rows.row(ts_us)
        if row is not None:
            score = deployed.detector.score_row(row)
            out.append({"device": device_id, "ts": ts_us, "values": {registry.SCORE_POINT: _finite(score)}})


def _finite(score: float) -> float:
    return float(np.clip(score, 0.0, 1e12)) if np.isfinite(score) else 1e12
