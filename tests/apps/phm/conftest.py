"""Fixtures of the PHM tests: synthetic fleets (synthetic.py) and the real C-MAPSS training data when the
machine has it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.apps.phm.synthetic import make_fleet

from indunet.apps.phm.cmapss import read_runs
from indunet.apps.phm.histories import Fleet

# The shared data sits beside the project (../shared); a clone elsewhere finds it through the variable.
CMAPSS = Path(
    os.environ.get("INDUNET_CMAPSS_DIR")
    or next(
        (
            p
            for p in (
                Path(__file__).resolve().parents[3].parent / "shared/data/cmapss",
                Path("/work/shared/data/cmapss"),
            )
            if p.is_dir()
        ),
        "/work/shared/data/cmapss",
    )
)


@pytest.fixture(scope="session")
def fleet() -> Fleet:
    """Sixty units in one condition."""
    return make_fleet(60, seed=1)


@pytest.fixture(scope="session")
def fd001() -> Fleet:
    """The real FD001 training set (100 units); outside CI a skip where it is not kept, in CI a
    failure, so a run without the data is not mistaken for a pass."""
    path = CMAPSS / "train_FD001.txt.gz"
    if not path.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"no C-MAPSS data at {path} (set INDUNET_CMAPSS_DIR)")
        pytest.skip(f"no C-MAPSS data at {path}")
    return read_runs(path)
