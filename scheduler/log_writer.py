"""A logging handler that formats on the caller's thread and writes from a thread of its own.

Formatting stays with the caller, so a line says what was true when it was logged (a dict
passed to a log call may change afterwards). Writing does not: a write to stderr is a system
call per line, and a pipe that a log collector drains slowly would stall the event loop that
answers Entra. Here a log call ends with a put on a queue; the writer thread wakes on a timer,
takes every line that arrived since, writes them with one call and flushes once.

The timer, not each line, wakes the writer: woken per line (or per few milliseconds), the
thread took the GIL from the event loop hundreds of times a second, and the hand-overs cost a
request more than formatting its line (measured: 25 of 33 µs per logged request). Ten wake-ups
a second cost nothing measurable, and a person reading the log never notices 0.1 s.

Nothing is lost at exit: :meth:`BackgroundWriter.close` writes every queued line before it
returns, and the standard library's ``logging.shutdown`` (run at interpreter exit) closes
every handler. The queue is unbounded: a stderr that never drains would grow it, where a
blocking handler would have stopped the service instead.
"""

from __future__ import annotations

import logging
import threading
from queue import Empty, SimpleQueue
from typing import TextIO

WRITE_EVERY_SECONDS = 0.1
"""How often the writer wakes to write what gathered (sooner on :meth:`BackgroundWriter.flush`
and :meth:`BackgroundWriter.close`)."""

_STOP = object()
"""Queued by :meth:`BackgroundWriter.close`: write what came before, then end the thread."""


class BackgroundWriter(logging.Handler):
    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream
        self._queue: SimpleQueue[object] = SimpleQueue()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._write_forever, name="log-writer", daemon=True)
        self._thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._queue.put(self.format(record))
        except Exception:
            self.handleError(record)

    def put_line(self, line: str) -> None:
        """Queue a line already formatted (``scheduler.logs.event_writer``)."""
        self._queue.put(line)

    def flush(self) -> None:
        """Return once every line logged before this call is written."""
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            written = threading.Event()
            self._queue.put(written)
            self._wake.set()
            written.wait()

    def close(self) -> None:
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._queue.put(_STOP)
            self._wake.set()
            self._thread.join()
        super().close()

    def _write_forever(self) -> None:
        while True:
            self._wake.wait(WRITE_EVERY_SECONDS)
            self._wake.clear()
            lines: list[str] = []
            waiting: list[threading.Event] = []
            stop = False
            while True:
                try:
                    item = self._queue.get_nowait()
                except Empty:
                    break
                if isinstance(item, str):
                    lines.append(item)
                elif isinstance(item, threading.Event):
                    waiting.append(item)
                else:
                    stop = True
            if lines:
                self._write("\n".join(lines) + "\n")
            for event in waiting:
                event.set()
            if stop:
                return

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass  # stderr is gone (a closed pipe): there is nowhere left to report it
