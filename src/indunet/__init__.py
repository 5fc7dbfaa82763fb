"""indunet: an open-source industrial internet stack."""

import os

# OpenMP's threads (LightGBM, scikit-learn) spin while they wait for work by default. On a machine
# with as many busy processes as cores, as a platform server is, the spinning took fitting the C-MAPSS
# FD001 model from 15 s to 600 s (docs/benchmarks.md); passive waiting costs nothing measurable when
# the machine is idle. Set before any OpenMP runtime loads; an explicit setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
