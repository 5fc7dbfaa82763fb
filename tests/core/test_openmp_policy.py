"""indunet makes OpenMP threads wait passively (a spinning wait cost 40x the fitting time on a busy
machine), unless the operator chose otherwise."""

from __future__ import annotations

import os
import subprocess
import sys


def _policy(env: dict[str, str]) -> str:
    code = "import indunet, os; print(os.environ.get('OMP_WAIT_POLICY'))"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_passive_unless_set() -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    assert _policy(env) == "PASSIVE"
    assert _policy({**env, "OMP_WAIT_POLICY": "ACTIVE"}) == "ACTIVE"
