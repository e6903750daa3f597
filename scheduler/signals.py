"""Changes made through this process that its own scheduler reacts to at once.

The store, the admin actions and the command line are built before (or without) a scheduler,
so they cannot call it. ``compose()`` builds these signals once and hands them to whoever
announces a change; the scheduler, when this process runs one, connects its reactions at
start and disconnects them at shutdown. Without listeners a signal does nothing: a process
that only serves requests leaves the work to the workers, which learn of it from the
database (``scheduler.wakeups``) or their next tick.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, ParamSpec

P = ParamSpec("P")


class Signal(Generic[P]):
    """Calls every connected listener, in the order they connected."""

    def __init__(self) -> None:
        self._listeners: list[Callable[P, None]] = []
        self._guard = threading.Lock()

    def connect(self, listener: Callable[P, None]) -> None:
        with self._guard:
            self._listeners.append(listener)

    def disconnect(self, listener: Callable[P, None]) -> None:
        with self._guard:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> None:
        with self._guard:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(*args, **kwargs)


@dataclass(frozen=True)
class ProcessSignals:
    work_waiting: Signal[[]] = field(default_factory=Signal)
    """A SCIM write committed or held changes were approved: reconcile soon."""
    interval_changed: Signal[[float]] = field(default_factory=Signal)
    """The operator set a new provisioning frequency (seconds)."""
    tokens_changed: Signal[[]] = field(default_factory=Signal)
    """A SCIM token was issued or revoked: re-derive when renewal is due."""
