"""The acceptance interface of signed identifier data: keys certified down the hierarchy with
``indunet idr certify``, a record signed with ``indunet idr sign``, and ``indunet resolve --verify``
through the recursive node: exit 0 for the signed record, non-zero for one whose values changed after
signing, for one signed with a key nobody certified, and for the wrong anchor."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from tests.helpers import free_port

from indunet.cli import main
from indunet.idr import client
from indunet.idr.model import HandleValue
from indunet.idr.records import parse_admin_id
from indunet.idr.wire import ModifyValueRequest
from indunet.ledger.did import bid_of
from indunet.security.crypto import keys


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "indunet", "idr", "serve", "--host", "127.0.0.1", *args],
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def _key(path: Path) -> keys.PrivateKey:
    key = keys.generate(keys.Algorithm.SM2)
    path.write_bytes(keys.private_pem(key))
    return key


def test_certify_sign_and_verify_through_the_recursive_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**os.environ, "INDUNET_DATA_DIR": str(tmp_path), "INDUNET_LANGUAGE": "en"}
    top, secondary, enterprise, recursive, checking = (free_port() for _ in range(5))
    nodes = [
        _start(["--role", "top", "--prefix", "88", "--port", str(top), "--admin-secret", "t"], env),
        _start(["--role", "secondary", "--prefix", "88.100", "--port", str(secondary), "--admin-secret", "s"], env),
        _start(["--role", "enterprise", "--prefix", "88.100.1", "--port", str(enterprise), "--admin-secret", "e"], env),
        _start(["--role", "recursive", "--root", f"127.0.0.1:{top}", "--port", str(recursive)], env),
    ]  # fmt: skip
    keyfile = {name: tmp_path / f"{name}.pem" for name in ("top", "secondary", "enterprise", "stranger")}
    anchor = bid_of(_key(keyfile["top"]).public_key())
    # A recursive node that checks signed records itself, for clients that do not.
    nodes.append(
        _start(
            [
                "--role",
                "recursive",
                "--root",
                f"127.0.0.1:{top}",
                "--port",
                str(checking),
                "--anchor",
                anchor,
            ],
            env,
        )
    )
    for name in ("secondary", "enterprise", "stranger"):
        _key(keyfile[name])
    at = {
        name: f"127.0.0.1:{port}"
        for name, port in (("top", top), ("secondary", secondary), ("enterprise", enterprise))
    }
    try:
        for node in nodes:
            assert node.stdout is not None and "127.0.0.1:" in node.stdout.readline()
        assert main(["idr", "allocate", "88.100", "--server", at["top"], "--admin", "300:0.NA/88", "--secret", "t",
                     "--site", at["secondary"]]) == 0  # fmt: skip
        assert main(["idr", "allocate", "88.100.1", "--server", at["secondary"], "--admin", "300:0.NA/88.100",
                     "--secret", "s", "--site", at["enterprise"]]) == 0  # fmt: skip
        for prefix, issuer, signing, subject, server, admin, secret in (
            ("88", "88", "top", "top", "top", "300:0.NA/88", "t"),
            ("88.100", "88", "top", "secondary", "top", "300:0.NA/88", "t"),
            ("88.100.1", "88.100", "secondary", "enterprise", "secondary", "300:0.NA/88.100", "s"),
        ):
            assert main(["idr", "certify", prefix, "--issuer", issuer, "--signing-key", str(keyfile[signing]),
                         "--subject-key", str(keyfile[subject]), "--server", at[server], "--admin", admin,
                         "--secret", secret]) == 0  # fmt: skip
        for handle, signer_key in (("88.100.1/pump-1", "enterprise"), ("88.100.1/pump-2", "enterprise"),
                                   ("88.100.1/pump-3", "stranger")):  # fmt: skip
            assert main(["idr", "register", handle, "--server", at["enterprise"], "--admin", "300:0.NA/88.100.1",
                         "--secret", "e", "--value", f"URL=https://plant.example/{handle}"]) == 0  # fmt: skip
            assert main(["idr", "sign", handle, "--signer", "88.100.1", "--signing-key", str(keyfile[signer_key]),
                         "--server", at["enterprise"], "--admin", "300:0.NA/88.100.1", "--secret", "e"]) == 0  # fmt: skip
        # After signing, someone with the enterprise's secret (but not its signing key) moves pump-2.
        asyncio.run(
            client.administer(
                "127.0.0.1", enterprise,
                ModifyValueRequest("88.100.1/pump-2", (HandleValue(1, "URL", b"https://evil.example/"),)),
                parse_admin_id("300:0.NA/88.100.1"), secret=b"e",
            )
        )  # fmt: skip
        through = f"127.0.0.1:{recursive}"
        capsys.readouterr()
        assert main(["resolve", "88.100.1/pump-1", "--server", through, "--verify", "--anchor", anchor]) == 0
        verified = json.loads(capsys.readouterr().out)["verified"]
        assert verified == {
            "signer": "88.100.1",
            "chain": ["88.100.1", "88.100", "88"],
            "anchor": anchor,
            "pinned": True,
        }
        assert main(["resolve", "88.100.1/pump-2", "--server", through, "--verify", "--anchor", anchor]) == 1
        assert "not the ones that were signed" in capsys.readouterr().err
        assert main(["resolve", "88.100.1/pump-3", "--server", through, "--verify", "--anchor", anchor]) == 1
        assert "does not verify" in capsys.readouterr().err
        stranger_anchor = bid_of(keys.load_private_key(keyfile["stranger"].read_bytes()).public_key())
        assert (
            main(["resolve", "88.100.1/pump-1", "--server", through, "--verify", "--anchor", stranger_anchor])
            == 1
        )
        checked = f"127.0.0.1:{checking}"
        assert main(["resolve", "88.100.1/pump-1", "--server", checked]) == 0
        for refused in ("88.100.1/pump-2", "88.100.1/pump-3"):
            assert main(["resolve", refused, "--server", checked]) == 1
        assert "does not verify" in capsys.readouterr().err
        # Nothing pinned: the chain is still checked, up to the top-level key as served, with a warning.
        monkeypatch.delenv("INDUNET_IDR_ANCHOR", raising=False)
        capsys.readouterr()
        assert main(["resolve", "88.100.1/pump-1", "--server", through, "--verify"]) == 0
        answered = capsys.readouterr()
        assert json.loads(answered.out)["verified"]["pinned"] is False and anchor in answered.err
        assert main(["resolve", "88.100.1/pump-2", "--server", through, "--verify"]) == 1
    finally:
        for node in nodes:
            node.send_signal(signal.SIGTERM)
        assert [node.wait(15) for node in nodes] == [0] * len(nodes)
