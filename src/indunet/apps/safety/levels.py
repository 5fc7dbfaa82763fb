"""The four warning levels of safety production, most severe first, and what each asks of people.

Level 1 is red (the most severe), 2 orange, 3 yellow, 4 blue, as in the national early-warning scheme.
A smaller number is more severe, so "raise a level" means subtract one, never below 1.
"""

from __future__ import annotations

RED, ORANGE, YELLOW, BLUE = 1, 2, 3, 4
LEVELS = (RED, ORANGE, YELLOW, BLUE)
COLOURS = {RED: "red", ORANGE: "orange", YELLOW: "yellow", BLUE: "blue"}

ESCALATE_AFTER_S = {BLUE: 1800.0, YELLOW: 900.0, ORANGE: 300.0}
"""How long a warning may stay at a level with nobody assigned before it goes up one: the less time
there is before harm, the sooner someone more senior must know."""


def worse(a: int | None, b: int | None) -> int | None:
    """The more severe of two levels (None is no warning)."""
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def raised(level: int, steps: int = 1) -> int:
    return max(RED, level - steps)


def colour(level: int | None) -> str | None:
    return None if level is None else COLOURS[level]
