"""Single-precision floats as people read them.

A float32 register holding 197.28 widens to the double 197.27999877929688; PLC engineering tools
show 197.28, the shortest decimal that is the same float32. Drivers decode REAL/float32 values
through ``float32`` so the platform stores and shows what the device meant.
"""

from __future__ import annotations

import math
import struct

_FLOAT32 = struct.Struct(">f")


def float32(packed: bytes) -> float:
    """The shortest decimal that packs to the same four big-endian bytes (NaN and infinities as is)."""
    value: float = _FLOAT32.unpack(packed)[0]
    if not math.isfinite(value):
        return value
    for digits in range(6, 10):
        shortest = float(f"{value:.{digits}g}")
        if _FLOAT32.pack(shortest) == packed:
            return shortest
    return value


def fits_float32(value: float) -> bool:
    """Whether ``value`` rounds to a float32 (finite values up to just above FLT_MAX do)."""
    try:
        _FLOAT32.pack(value)
    except OverflowError:
        return False
    return True
