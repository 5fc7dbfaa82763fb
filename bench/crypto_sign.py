"""Signatures per second: SM2 (indunet.security.crypto: gmalglib signs, the system's OpenSSL 3 verifies
where it has SM2, gmalglib otherwise, both measured) against Ed25519 from
`cryptography` (OpenSSL) in the same run, and against OpenSSL's own SM2 (``openssl speed sm2``, the
C implementation of the same algorithm) as this machine's reference for SM2 itself.

Each side signs or verifies a 100-octet message in a loop on one core for a fixed time, with keys and
verifier objects made beforehand (as a node holds them); SM2 includes ZA over the default user id.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from _common import record, write_results
from indunet.security.crypto import keys
from indunet.security.crypto.keys import Algorithm
from indunet.security.crypto.sm2 import Sm2PublicKey

NAME = "crypto_sign"
MESSAGE = b"88.100.1/pump-7|URL|https://plant.example/p/00000007|model|CP-200|2026-12-07T00:00:00Z|0001"


def _rate(operation: Callable[[], object], seconds: float) -> float:
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(50):
            operation()
        done += 50
        now = time.perf_counter()
        if now >= deadline:
            return done / (now - start)


def _openssl_sm2(seconds: int) -> tuple[float, float]:
    """(signs/s, verifies/s) of ``openssl speed sm2``; (0, 0) without an OpenSSL that has SM2."""
    found = shutil.which("openssl")
    if found is None:
        return 0.0, 0.0
    out = subprocess.run(
        [found, "speed", "-seconds", str(seconds), "sm2"], capture_output=True, text=True, timeout=120
    ).stdout
    match = re.search(r"SM2 \(CurveSM2\)\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)", out)
    return (float(match.group(1)), float(match.group(2))) if match else (0.0, 0.0)


def run(quick: bool = False) -> list[dict[str, Any]]:
    seconds = 1.0 if quick else 5.0
    sm2, ed = keys.generate(Algorithm.SM2), keys.generate(Algorithm.ED25519)
    sm2_public, ed_public = sm2.public_key(), ed.public_key()
    sm2_signature, ed_signature = sm2.sign(MESSAGE), ed.sign(MESSAGE)
    portable = Sm2PublicKey(sm2_public.raw(), use_openssl=False)
    backend = keys.as_sm2(sm2).public_key().verified_by
    rates = {
        "sm2 verify gmalglib": _rate(lambda: portable.verify(sm2_signature, MESSAGE), seconds),
        "sm2 sign": _rate(lambda: sm2.sign(MESSAGE), seconds),
        "sm2 verify": _rate(lambda: sm2_public.verify(sm2_signature, MESSAGE), seconds),
        "ed25519 sign": _rate(lambda: ed.sign(MESSAGE), seconds),
        "ed25519 verify": _rate(lambda: ed_public.verify(ed_signature, MESSAGE), seconds),
    }
    openssl_sign, openssl_verify = _openssl_sm2(int(seconds))
    results = [
        record(
            f"SM2 verifications (SM3 with ZA, default user id, DER signature; by {backend}), one core",
            rates["sm2 verify"],
            "verifies/s",
            "Ed25519 verifications (cryptography / OpenSSL), same run",
            rates["ed25519 verify"],
            ">= 2,000/s",
        ),
        record(
            "SM2 verifications by gmalglib (where the system's OpenSSL has no SM2), one core",
            rates["sm2 verify gmalglib"],
            "verifies/s",
            "Ed25519 verifications (cryptography / OpenSSL), same run",
            rates["ed25519 verify"],
            "reported",
        ),
        record(
            "SM2 signatures (gmalglib), one core",
            rates["sm2 sign"],
            "signs/s",
            "Ed25519 signatures (cryptography / OpenSSL), same run",
            rates["ed25519 sign"],
            "reported",
        ),
    ]
    if openssl_verify:
        results.append(
            record(
                "SM2 verifications, one core, against OpenSSL's C implementation of SM2",
                rates["sm2 verify"],
                "verifies/s",
                "openssl speed sm2 (OpenSSL 3 command line), same run",
                openssl_verify,
                "reported (the same algorithm's reference on this machine)",
            )
        )
        results.append(
            record(
                "SM2 signatures, one core, against OpenSSL's C implementation of SM2",
                rates["sm2 sign"],
                "signs/s",
                "openssl speed sm2 (OpenSSL 3 command line), same run",
                openssl_sign,
                "reported",
            )
        )
    write_results(NAME, results)
    return results


if __name__ == "__main__":
    for item in run(quick="--quick" in sys.argv):
        print(item)
