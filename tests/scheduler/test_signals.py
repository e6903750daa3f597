"""Process signals: how a change made before (or without) a scheduler reaches it."""

from __future__ import annotations

from scheduler.signals import ProcessSignals, Signal


def test_listeners_hear_a_signal_in_the_order_they_connected_until_they_disconnect() -> None:
    heard: list[tuple[str, float]] = []
    changed: Signal[[float]] = Signal()

    def first(seconds: float) -> None:
        heard.append(("first", seconds))

    def second(seconds: float) -> None:
        heard.append(("second", seconds))

    changed.connect(first)
    changed.connect(second)
    changed(30.0)
    changed.disconnect(first)
    changed(60.0)
    assert heard == [("first", 30.0), ("second", 30.0), ("second", 60.0)]


def test_without_a_scheduler_a_signal_does_nothing() -> None:
    signals = ProcessSignals()
    signals.work_waiting()
    signals.tokens_changed()
    signals.interval_changed(5.0)
    signals.work_waiting.disconnect(print)  # never connected: nothing to undo
