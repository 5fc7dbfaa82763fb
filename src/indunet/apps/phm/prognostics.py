"""Prognostics as a service in the shape of NASA's prog_server: sessions that take a system's data one
time step at a time and answer its state and predicted time of event, so tools written against
prog_server's REST API (its own ``prog_client`` among them) work against indunet's models.

A session runs a production remaining-useful-life model of the registry (``model`` names it). What
prog_server calls a time step is one cycle of that model: ``time`` is the cycle, and the data carry
one value per column the model was trained on (its settings as prog_server's inputs, its sensors as
outputs). The predicted time of event is ``EOL`` = the last time plus the remaining life, given as
samples drawn from the model's calibration residuals around its prediction (what the conformal
interval is made of), so a client's percentiles are the model's intervals. The event state is the
health index (1 as new, 0 at the event).

Sessions live in the serving process (as prog_server's do), at most ``MAX_SESSIONS`` per tenant, each
at most ``MAX_STEPS`` steps; a session idle for ``IDLE_S`` is ended. Asking a session for what a
data-driven model does not have (a physics model's internal state, its future outputs) is refused
with the reason.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from indunet.apps.phm import registry, saved
from indunet.apps.phm.histories import Fleet, History
from indunet.core.errors import Conflict, InvalidInput, NotFound
from indunet.platform.runtime import Platform
from indunet.security import Permission, Principal

MAX_SESSIONS = 100
MAX_STEPS = 20_000
IDLE_S = 24 * 3600.0
LEVEL = 0.9
EVENT = "EOL"


@dataclass
class Session:
    id: int
    tenant_id: str
    name: str
    version: int
    model: saved.AnyModel
    settings: tuple[str, ...]
    options: dict[str, str]
    times: list[float] = field(default_factory=list)
    rows: list[list[float]] = field(default_factory=list)
    predicted_at: float | None = None
    used: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def sensors(self) -> tuple[str, ...]:
        return self.model.sensors

    @property
    def initialized(self) -> bool:
        return bool(self.rows)

    def describe(self) -> dict[str, Any]:
        return {
            "session_id": self.id,
            "model": {
                "type": self.name,
                "cfg": {
                    "version": self.version,
                    "inputs": list(self.settings),
                    "outputs": list(self.sensors),
                },
            },
            "state_estimator": {"type": "indunet.CausalFeatures", "cfg": {}},
            "load_estimator": {"type": "indunet.Measured", "cfg": {}},
            "predictor": {"type": "indunet.ConformalGradientBoosting", "cfg": {"level": LEVEL}},
            "initialized": self.initialized,
            "options": self.options,
        }


class Sessions:
    """The sessions of one serving process."""

    def __init__(self) -> None:
        self._sessions: dict[int, Session] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def create(
        self, platform: Platform, principal: Principal, model_name: str, options: dict[str, str]
    ) -> Session:
        principal.require(Permission.READ)
        production = [
            m
            for m in registry.in_production(platform, principal.tenant_id)
            if m["name"] == model_name and m["kind"] == registry.RUL
        ]
        if not production:
            raise InvalidInput(
                f"no remaining-useful-life model {model_name!r} in production",
                key="error.prog_model",
                model=model_name,
            )
        document = production[0]["document"]
        model = saved.from_dict(document["model"])
        settings = tuple(f["column"] for f in document["binding"]["settings"])
        with self._lock:
            self._expire()
            if sum(1 for s in self._sessions.values() if s.tenant_id == principal.tenant_id) >= MAX_SESSIONS:
                raise Conflict(f"at most {MAX_SESSIONS} sessions at a time", key="error.prog_sessions")
            session = Session(
                next(self._ids),
                principal.tenant_id,
                model_name,
                production[0]["version"],
                model,
                settings,
                options,
            )
            self._sessions[session.id] = session
        return session

    def get(self, principal: Principal, session_id: int) -> Session:
        principal.require(Permission.READ)
        with self._lock:
            self._expire()
            session = self._sessions.get(session_id)
        if session is None or session.tenant_id != principal.tenant_id:
            raise NotFound(
                f"session {session_id} does not exist or has ended", key="error.prog_session", id=session_id
            )
        session.used = time.monotonic()
        return session

    def ids(self, principal: Principal) -> list[int]:
        principal.require(Permission.READ)
        with self._lock:
            self._expire()
            return [s.id for s in self._sessions.values() if s.tenant_id == principal.tenant_id]

    def end(self, principal: Principal, session_id: int) -> None:
        session = self.get(principal, session_id)
        with self._lock:
            self._sessions.pop(session.id, None)

    def _expire(self) -> None:
        cutoff = time.monotonic() - IDLE_S
        for key in [k for k, s in self._sessions.items() if s.used < cutoff]:
            del self._sessions[key]


def add_data(session: Session, values: dict[str, str]) -> None:
    """One time step: ``time`` and a number for every input and output of the session's model."""
    names = (*session.settings, *session.sensors)
    missing = [n for n in ("time", *names) if n not in values]
    if missing:
        raise InvalidInput(
            f"data missing: {', '.join(missing)} (expected time, inputs {list(session.settings)}, "
            f"outputs {list(session.sensors)})",
            key="error.prog_data",
        )
    try:
        numbers = [float(values[n]) for n in ("time", *names)]
    except ValueError:
        raise InvalidInput("every value must be a number", key="error.prog_number") from None
    if not all(math.isfinite(v) for v in numbers):
        raise InvalidInput("every value must be a finite number", key="error.prog_number")
    with session.lock:
        if session.times and numbers[0] <= session.times[-1]:
            raise InvalidInput(
                f"time must grow: {numbers[0]:g} after {session.times[-1]:g}", key="error.prog_time"
            )
        if len(session.times) >= MAX_STEPS:
            raise Conflict(f"a session takes at most {MAX_STEPS} steps", key="error.prog_steps")
        session.times.append(numbers[0])
        session.rows.append(numbers[1:])


def _history(session: Session) -> Fleet:
    if not session.rows:
        raise InvalidInput("Model not initialized: no data yet", key="error.prog_uninitialized")
    with session.lock:
        matrix = np.asarray(session.rows, dtype=np.float64)
        times = np.asarray(session.times, dtype=np.float64)
    n = len(session.settings)
    return Fleet(
        [History(str(session.id), times, matrix[:, :n], matrix[:, n:])], session.settings, session.sensors
    )


def prediction(session: Session) -> tuple[float, float, np.ndarray]:
    """(time of the last step, predicted remaining life, samples of the time of event)."""
    fleet = _history(session)
    now = float(fleet.histories[0].time[-1])
    rul = float(session.model.predict(fleet)[0])
    calibration = session.model.calibration
    residuals = calibration.residuals(rul, LEVEL) if calibration is not None else np.zeros(1)
    samples = now + np.maximum(rul + residuals, 0.0)
    session.predicted_at = time.time()
    return now, rul, np.sort(samples)


def health(session: Session) -> tuple[float, float]:
    """(time of the last step, health index) — prog_server's event state of ``EOL``."""
    now, rul, _ = prediction(session)
    return now, min(1.0, max(0.0, rul / session.model.config.cap))


def status(session: Session) -> dict[str, Any]:
    last = None if session.predicted_at is None else time.strftime("%c", time.localtime(session.predicted_at))
    return {"exceptions": [], "in progress": 0, "last prediction": last}


def metrics(samples: np.ndarray) -> dict[str, Any]:
    return {
        EVENT: {
            "mean": float(samples.mean()),
            "median": float(np.median(samples)),
            "std": float(samples.std()),
            "percentiles": {
                f"{p:g}": float(np.percentile(samples, p)) for p in (1, 5, 10, 25, 50, 75, 90, 95, 99)
            },
            "number of samples": len(samples),
        }
    }
