"""SM2 (and the other algorithms) cross-checked with the OpenSSL 3 command line, both ways: keys
OpenSSL generates are read, signatures OpenSSL makes verify here and signatures made here verify in
OpenSSL, and ciphertexts decrypt on the other side. OpenSSL signs with an empty SM2 id unless given
``distid``; the standard's default id is passed explicitly."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from indunet.security.crypto import keys
from indunet.security.crypto.keys import Algorithm
from indunet.security.crypto.sm2 import DEFAULT_USER_ID

MESSAGE = b"88.100.1/pump-7 allocated to 88.100.1 on 2026-12-07"
DISTID = f"distid:{DEFAULT_USER_ID.decode()}"


@pytest.fixture(scope="module")
def openssl() -> str:
    found = shutil.which("openssl")
    assert found is not None, "the openssl command line is installed by `make test`"
    version = subprocess.run([found, "version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith("OpenSSL 3"), version
    return found


def run(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(a) for a in args], capture_output=True, timeout=30)


def test_openssl_sm2_keys_and_signatures_are_read_and_verified_here(openssl: str, tmp_path: Path) -> None:
    key, pub, msg, sig = (tmp_path / n for n in ("key.pem", "pub.pem", "msg", "sig.der"))
    assert run(openssl, "genpkey", "-algorithm", "SM2", "-out", key).returncode == 0
    assert run(openssl, "pkey", "-in", key, "-pubout", "-out", pub).returncode == 0
    msg.write_bytes(MESSAGE)
    assert run(openssl, "dgst", "-sm3", "-sign", key, "-sigopt", DISTID, "-out", sig, msg).returncode == 0
    public = keys.load_public_key(pub.read_bytes())
    assert public.algorithm is Algorithm.SM2
    assert public.verify(sig.read_bytes(), MESSAGE)
    assert not public.verify(sig.read_bytes(), MESSAGE + b"!")
    # The private key OpenSSL wrote is the same key here, and writes back the same octets.
    private = keys.load_private_key(key.read_bytes())
    assert private.public_key().raw() == public.raw()
    assert keys.private_pem(private) == key.read_bytes()


def test_signatures_made_here_verify_in_openssl(openssl: str, tmp_path: Path) -> None:
    msg, sig, pub = tmp_path / "msg", tmp_path / "sig.der", tmp_path / "pub.pem"
    msg.write_bytes(MESSAGE)
    for algorithm, digest in ((Algorithm.SM2, "-sm3"), (Algorithm.ECDSA_P256, "-sha256")):
        private = keys.generate(algorithm)
        pub.write_bytes(keys.public_pem(private.public_key()))
        for _ in range(3):  # r and s vary in length: DER must hold for each
            sig.write_bytes(private.sign(MESSAGE))
            options = ["-sigopt", DISTID] if algorithm is Algorithm.SM2 else []
            checked = run(openssl, "dgst", digest, "-verify", pub, *options, "-signature", sig, msg)
            assert checked.returncode == 0, (algorithm, checked.stderr)
    ed = keys.generate(Algorithm.ED25519)
    pub.write_bytes(keys.public_pem(ed.public_key()))
    sig.write_bytes(ed.sign(MESSAGE))
    checked = run(
        openssl, "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", msg, "-sigfile", sig
    )
    assert checked.returncode == 0, checked.stderr


def test_sm2_ciphertexts_cross_both_ways(openssl: str, tmp_path: Path) -> None:
    private = keys.generate(Algorithm.SM2)
    key, pub, plain, cipher = (tmp_path / n for n in ("key.pem", "pub.pem", "plain", "cipher.der"))
    key.write_bytes(keys.private_pem(private))
    pub.write_bytes(keys.public_pem(private.public_key()))
    sm2 = keys.load_private_key(key.read_bytes())
    inner = sm2.key if isinstance(sm2, keys._Sm2Private) else None
    assert inner is not None
    cipher.write_bytes(inner.public_key().encrypt(b"secret for openssl"))
    decrypted = run(openssl, "pkeyutl", "-decrypt", "-inkey", key, "-in", cipher)
    assert decrypted.returncode == 0 and decrypted.stdout == b"secret for openssl"
    plain.write_bytes(b"secret from openssl")
    assert (
        run(openssl, "pkeyutl", "-encrypt", "-pubin", "-inkey", pub, "-in", plain, "-out", cipher).returncode
        == 0
    )
    assert inner.decrypt(cipher.read_bytes()) == b"secret from openssl"


def test_openssl_ed25519_and_p256_keys_load_with_their_algorithm(openssl: str, tmp_path: Path) -> None:
    for name, args, algorithm in (
        ("ed.pem", ["-algorithm", "ED25519"], Algorithm.ED25519),
        ("p256.pem", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], Algorithm.ECDSA_P256),
    ):
        path = tmp_path / name
        assert run(openssl, "genpkey", *args, "-out", path).returncode == 0
        loaded = keys.load_private_key(path.read_bytes())
        assert loaded.algorithm is algorithm
        assert loaded.public_key().verify(loaded.sign(MESSAGE), MESSAGE)
