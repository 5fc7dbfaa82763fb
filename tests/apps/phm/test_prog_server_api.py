"""NASA's own ``prog_client`` (from the prog_server package, unmodified) against indunet's ``/api/v1``:
a session on a production remaining-useful-life model takes a pump's hours one by one and answers its
predicted time of event with samples whose spread is the model's interval, its event state and state;
what a data-driven model cannot answer is refused with the reason, and a caller without credentials
gets nothing."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from tests.helpers import served

from indunet.apps.phm import registry
from indunet.apps.phm.histories import Fleet
from indunet.apps.phm.lifetimes import bind, parse_feeds
from indunet.apps.phm.model import RulConfig, RulModel
from indunet.apps.phm.tabular import read_table
from indunet.platform import accounts, tenants
from indunet.platform.devicetypes import load_type
from indunet.platform.runtime import Platform
from indunet.security import Principal
from indunet.sim.wear_fleets import PUMP_SENSORS, PUMP_SETTINGS
from indunet.web.app import create_app

FEEDS = (
    "ambient_c=ambient_temperature, voltage_v=supply_voltage, discharge_kpa=discharge_pressure*100, "
    "speed_rpm=speed, flow_m3h=flow, thrust_bearing_c=thrust_bearing_temperature, "
    "radial_bearing_c=bearing_temperature, oil_c=oil_temperature"
)


@pytest.fixture(scope="module")
def pumps() -> Fleet:
    path = Path(str(resources.files("indunet.sim") / "data" / "pump_fleet.csv.gz"))
    return read_table(path, settings=PUMP_SETTINGS, sensors=PUMP_SENSORS)


@pytest.fixture(scope="module")
def server(platform: Platform, pumps: Fleet) -> Iterator[tuple[int, str]]:
    """(port, API key) of a served platform whose tenant has the model ``pump-wear`` in production."""
    tenant = tenants.create_tenant(platform, f"prog-{id(pumps) % 100_000}")
    system = Principal.system(tenant["id"])
    config = RulConfig(folds=2, draws=2, max_rounds=150, learning_rate=0.15, cap=250.0, max_rul=0.0)
    model = RulModel(config).fit(Fleet(pumps.histories[:60], pumps.settings, pumps.sensors))
    binding = bind(
        model,
        pumps.settings,
        model.sensors,
        parse_feeds(FEEDS),
        load_type(platform, tenant["id"], "centrifugal_pump"),
        "operating_hours",
    )
    created = registry.register_rul(platform, system, "pump-wear", "centrifugal_pump", model, binding, {}, {})
    registry.promote(platform, system, "pump-wear", created["version"])
    key = accounts.create_api_key(platform, system, "prog-client", "viewer")["key"]
    with served(create_app(platform)) as base_url:
        yield int(base_url.rsplit(":", 1)[1]), key


@pytest.fixture
def netrc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: tuple[int, str]) -> None:
    """The API key where requests (under prog_client) finds credentials: the user's .netrc."""
    path = tmp_path / "netrc"
    path.write_text(f"machine 127.0.0.1\nlogin apikey\npassword {server[1]}\n")
    path.chmod(0o600)
    monkeypatch.setenv("NETRC", str(path))


def test_prog_client_follows_a_pump_to_its_end_of_life(
    server: tuple[int, str], netrc: None, pumps: Fleet
) -> None:
    import prog_client

    session = prog_client.Session("pump-wear", host="127.0.0.1", port=server[0])
    assert not session.is_init()
    pump = pumps.histories[72]
    columns = (*PUMP_SETTINGS, *PUMP_SENSORS)
    seen = int(len(pump) * 0.7)
    for i in range(seen):
        values = dict(zip(columns, [*pump.settings[i], *pump.sensors[i]], strict=True))
        session.send_data(float(pump.time[i]), **{k: float(v) for k, v in values.items()})
    assert session.is_init()

    at, toe = session.get_predicted_toe()
    assert at == float(pump.time[seen - 1])
    eol = float(pump.time[-1])
    samples = np.asarray([s["EOL"] for s in toe])
    assert toe.mean["EOL"] == pytest.approx(samples.mean())
    assert len(samples) >= 10 and np.all(samples >= at)
    assert abs(float(np.median(samples)) - eol) < 0.25 * len(pump)
    assert np.percentile(samples, 5) <= eol <= np.percentile(samples, 95) + 0.1 * len(pump)

    _, event_state = session.get_event_state()
    assert 0 <= event_state.mean["EOL"] <= 1
    _, state = session.get_state()
    assert state.mean["rul"] == pytest.approx(float(np.median(samples)) - at, abs=0.5 * len(pump))
    status = session.get_prediction_status()
    assert status["exceptions"] == [] and status["last prediction"]
    with pytest.raises(Exception, match="data-driven"):
        session.get_output()


def test_bad_steps_and_strangers_are_refused(
    server: tuple[int, str], netrc: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import prog_client

    session = prog_client.Session("pump-wear", host="127.0.0.1", port=server[0])
    with pytest.raises(Exception, match="data missing: flow_m3h"):
        session.send_data(1.0, ambient_c=20, voltage_v=470, discharge_kpa=930, speed_rpm=3550)
    complete = {"ambient_c": 20, "voltage_v": 470, "discharge_kpa": 930, "speed_rpm": 3550, "flow_m3h": 390,
                "thrust_bearing_c": 50, "radial_bearing_c": 45, "oil_c": 35}  # fmt: skip
    session.send_data(5.0, **complete)
    with pytest.raises(Exception, match="time must grow"):
        session.send_data(5.0, **complete)
    with pytest.raises(Exception, match="no remaining-useful-life model 'magic'"):
        prog_client.Session("magic", host="127.0.0.1", port=server[0])
    monkeypatch.delenv("NETRC")
    monkeypatch.setenv("HOME", "/nonexistent")
    with pytest.raises(Exception, match="Authentication required"):
        prog_client.Session("pump-wear", host="127.0.0.1", port=server[0])
