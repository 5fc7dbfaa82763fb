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
    # Nine significant digits always identify a float32; most need seven or eight. Trying 7 first,
    # then fewer or more, finds the shortest in about two formatting rounds instead of four.
    seven = float(f"{value:.7g}")
    if _same(seven, packed):
        # Fewer digits may do: short decimals like 197.28, and subnormals, which hold fewer digits.
        shortest = seven
        for digits in range(6, 0, -1):
            candidate = float(f"{value:.{digits}g}")
            if not _same(candidate, packed):
                break
            shortest = candidate
        return shortest
    eight = float(f"{value:.8g}")
    return eight if _same(eight, packed) else float(f"{value:.9g}")


def _same(candidate: float, packed: bytes) -> bool:
    try:
        return _FLOAT32.pack(candidate) == packed
    except OverflowError:  # rounded up past the largest float32
        return False


def fits_float32(value: float) -> bool:
    """Whether ``value`` rounds to a float32 (finite values up to just above FLT_MAX do)."""
    try:
        _FLOAT32.pack(value)
    except OverflowError:
        return False
    return True
