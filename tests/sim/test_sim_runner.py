from __future__ import annotations

import json
import logging
import threading
import time

import httpx
import pytest

from indunet.sim import CncMachine, FlowMeter, SimulatedDevice, run_simulators


class Recorder:
    """A fake telemetry endpoint: records requests and answers from a script of outcomes."""

    def __init__(self, script: list[int | Exception] | None = None, stop_after: int = 4) -> None:
        self.requests: list[httpx.Request] = []
        self.script = list(script or [])
        self.stop_after = stop_after
        self.stop = threading.Event()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if len(self.requests) >= self.stop_after:
            self.stop.set()
        outcome = self.script.pop(0) if self.script else 202
        if isinstance(outcome, Exception):
            raise outcome
        return httpx.Response(outcome, json={"accepted": 1})


def run(recorder: Recorder, devices: list[SimulatedDevice], period_s: float = 0.01) -> None:
    client = httpx.Client(transport=httpx.MockTransport(recorder))
    thread = threading.Thread(
        target=run_simulators,
        args=("http://platform.test/", devices, period_s),
        kwargs={"stop": recorder.stop, "client": client},
    )
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive()


def devices() -> list[SimulatedDevice]:
    return [
        SimulatedDevice("cnc-01", "cnc_machine_tool", "tok-cnc", CncMachine(1)),
        SimulatedDevice("fit-101", "flow_pressure_instrument", "tok-fit", FlowMeter(2)),
    ]


def test_posts_each_device_with_its_own_token_and_body() -> None:
    recorder = Recorder(stop_after=4)
    before_ms = time.time_ns() // 1_000_000
    run(recorder, devices())
    after_ms = time.time_ns() // 1_000_000

    assert len(recorder.requests) == 4
    by_token: dict[str, list[dict[str, object]]] = {}
    for request in recorder.requests:
        assert request.method == "POST"
        assert str(request.url) == "http://platform.test/api/telemetry"
        assert request.headers["content-type"] == "application/json"
        body = json.loads(request.content)
        (record,) = body["records"]
        assert set(record) == {"device", "ts", "values"}
        assert isinstance(record["ts"], int) and before_ms <= record["ts"] <= after_ms
        by_token.setdefault(request.headers["authorization"], []).append(record)

    assert set(by_token) == {"Bearer tok-cnc", "Bearer tok-fit"}
    assert {r["device"] for r in by_token["Bearer tok-cnc"]} == {"cnc-01"}
    assert "spindle_speed" in by_token["Bearer tok-cnc"][0]["values"]  # type: ignore[operator]
    assert "volume_flow" in by_token["Bearer tok-fit"][0]["values"]  # type: ignore[operator]


def test_survives_errors_and_logs_outage_and_recovery(caplog: pytest.LogCaptureFixture) -> None:
    device = SimulatedDevice("cnc-01", "cnc_machine_tool", "tok", CncMachine(1))
    recorder = Recorder(
        script=[httpx.ConnectError("refused"), 503, httpx.ReadTimeout("slow"), 500, 202],
        stop_after=6,
    )
    with caplog.at_level(logging.INFO, logger="indunet.sim.runner"):
        run(recorder, [device])

    assert len(recorder.requests) == 6
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert len(messages) == 2  # one line when it breaks, one when it recovers
    assert "not delivered" in messages[0] and "ConnectError" in messages[0]
    assert "accepted again" in messages[1]
    assert device.healthy


def test_periods_are_paced_not_bursted() -> None:
    recorder = Recorder(stop_after=3)
    started = time.monotonic()
    run(recorder, devices()[:1], period_s=0.1)
    assert time.monotonic() - started >= 0.19


def test_stop_before_start_sends_nothing() -> None:
    recorder = Recorder()
    recorder.stop.set()
    run(recorder, devices())
    assert recorder.requests == []
