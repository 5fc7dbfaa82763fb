"""``indunet gateway check|scan`` and ``indunet sim`` as a commissioning engineer uses them."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pymodbus.client import ModbusTcpClient
from tests.edge import configs
from tests.helpers import free_port

from indunet.cli import main
from indunet.sim import modbus_plc, opcua_cnc


class Background:
    """A simulator's ``serve`` on its own event loop in a thread, for commands that block."""

    def __init__(self, serve: Callable[..., Any], **kwargs: Any) -> None:
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.stop = asyncio.Event()
        ready = threading.Event()

        async def run() -> None:
            started = asyncio.Event()
            task = asyncio.create_task(serve("127.0.0.1", self.port, ready=started, stop=self.stop, **kwargs))
            await started.wait()
            ready.set()
            await task

        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(run(),), daemon=True)
        self.thread.start()
        assert ready.wait(20), "the simulator did not start"

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(10)


@pytest.fixture
def pumps() -> Iterator[Background]:
    sim = Background(modbus_plc.serve, units=3)
    yield sim
    sim.close()


def _write(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True))
    return path


def test_check_accepts_a_valid_configuration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, configs.gateway("gw", "token", 1883, "q.db", [configs.pump("pump-1", 502)]))
    assert main(["gateway", "check", "--config", str(path)]) == 0
    assert "1 devices, 13 bound points" in capsys.readouterr().out


def test_check_lists_every_problem_with_its_place_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = configs.pump("pump-1", 502)
    bad["points"][0]["point"] = "flow_rate"  # not in the model
    bad["points"][1]["type"] = "float48"  # not a Modbus type
    bad["points"][7] = {
        "point": "tag",
        "table": "input",
        "address": 19,
        "type": "float32",
    }  # string point, number
    other = configs.pump("pump-2", 502)
    other["type"] = "no_such_type"
    path = _write(tmp_path, configs.gateway("gw", "token", 1883, "q.db", [bad, other]))
    assert main(["gateway", "check", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "devices[0] (pump-1).points[0].point: 'flow_rate' is not a point of centrifugal_pump" in err
    assert "devices[1] (pump-2).type: 'no_such_type' is not in the data dictionary" in err


def test_check_reports_the_driver_s_own_address_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = configs.pump("pump-1", 502)
    bad["points"][1]["type"] = "float48"
    path = _write(tmp_path, configs.gateway("gw", "token", 1883, "q.db", [bad]))
    assert main(["gateway", "check", "--config", str(path)]) == 2
    assert "points[1]" in capsys.readouterr().err


def test_check_without_a_file_and_with_a_missing_file_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["gateway", "check"]) == 2
    assert "--config" in capsys.readouterr().err
    assert main(["gateway", "check", "--config", str(tmp_path / "nope.yaml")]) == 2


def test_scan_finds_the_pumps_and_writes_a_draft(
    pumps: Background, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "draft.yaml"
    assert (
        main(
            [
                "gateway",
                "scan",
                f"127.0.0.1:{pumps.port}",
                "--protocol",
                "modbus",
                "--timeout",
                "0.3",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    draft = yaml.safe_load(out.read_text())
    units = sorted(d["connection"]["unit"] for d in draft["devices"])
    assert units == [1, 2, 3]
    tables = {p["table"] for p in draft["devices"][0]["points"]}
    assert {"input", "holding", "coil"} <= tables


def test_scan_of_an_opc_ua_machine_proposes_a_type_that_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = Background(opcua_cnc.serve)
    try:
        out = tmp_path / "draft.yaml"
        code = main(
            [
                "gateway",
                "scan",
                f"127.0.0.1:{sim.port}",
                "--timeout",
                "2",
                "--models",
                str(tmp_path / "models"),
                "--out",
                str(out),
            ]
        )
    finally:
        sim.close()
    assert code == 0
    assert (tmp_path / "models" / "cnc_1.aas.json").exists()
    assert main(["gateway", "check", "--config", str(out)]) == 0  # the draft is a valid configuration


def test_scan_of_nothing_exits_1_and_a_bad_target_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["gateway", "scan", f"127.0.0.1:{free_port()}", "--protocol", "modbus", "--timeout", "0.2"]) == 1
    )
    assert main(["gateway", "scan", "127.0.0.1:notaport"]) == 2
    assert "HOST:PORT" in capsys.readouterr().err


def test_sim_modbus_serves_real_modbus_and_stops_on_sigterm() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "indunet", "sim", "modbus", "--port", str(port), "--count", "2"],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        assert process.stdout is not None
        assert f"listening on 127.0.0.1:{port}" in process.stdout.readline()
        client = ModbusTcpClient("127.0.0.1", port=port, timeout=2)
        assert client.connect()
        reply = client.read_input_registers(0, count=27, slave=2)
        assert not reply.isError() and len(reply.registers) == 27
        client.close()
    finally:
        process.terminate()
    assert process.wait(10) == 0


def test_sim_on_a_taken_port_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert main(["sim", "s7", "--port", str(taken.getsockname()[1])]) == 2
    assert "cannot listen" in capsys.readouterr().err
