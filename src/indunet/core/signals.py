"""In-process change announcements: services announce, running workers listen and reload.

A service that changes what a worker of the same process has cached (rules, models, a safety
registry) sends the signal after its transaction commits; the worker's listener only marks its cache
stale. Workers in other processes do not hear it and reload on their own schedule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, ParamSpec

P = ParamSpec("P")


class Signal(Generic[P]):
    def __init__(self) -> None:
        self._listeners: list[Callable[P, None]] = []

    def connect(self, listener: Callable[P, None]) -> Callable[[], None]:
        """Listen; returns the function that stops listening."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def send(self, *args: P.args, **kwargs: P.kwargs) -> None:
        for listener in list(self._listeners):
            listener(*args, **kwargs)
