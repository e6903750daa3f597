"""A logging handler that formats on the caller's thread and writes from a thread of its own.

Formatting stays with the caller, so a line says what was true when it was logged (a dict
passed to a log call may change afterwards). Writing does not: a write to stderr is a system
call per line, and a pipe that a log collector drains slowly would stall the event loop that
answers Entra. Here a log call ends with a put on a queue; the writer thread takes every line
that arrived within a few milliseconds, writes them with one call and flushes once.

Nothing is lost at exit: :meth:`BackgroundWriter.close` writes every queued line before it
returns, and the standard library's ``logging.shutdown`` (run at interpreter exit) closes
every handler. The queue is unbounded: a stderr that never drains would grow it, where a
blocking handler would have stopped the service instead.
"""

from __future__ import annotations

import logging
import threading
import time
from queue import Empty, SimpleQueue
from typing import TextIO

GATHER_SECONDS = 0.005
"""How long the writer lets lines gather after the first one: a person never notices it, and
at thousands of requests a second it turns dozens of writes into one."""

_STOP = object()
"""Queued by :meth:`BackgroundWriter.close`: write what came before, then end the thread."""


class BackgroundWriter(logging.Handler):
    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream
        self._queue: SimpleQueue[object] = SimpleQueue()
        self._thread = threading.Thread(target=self._write_forever, name="log-writer", daemon=True)
        self._thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._queue.put(self.format(record))
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        """Return once every line logged before this call is written."""
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            written = threading.Event()
            self._queue.put(written)
            written.wait()

    def close(self) -> None:
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._queue.put(_STOP)
            self._thread.join()
        super().close()

    def _write_forever(self) -> None:
        while True:
            lines: list[str] = []
            waiting: list[threading.Event] = []
            stop = False
            item = self._queue.get()
            # Let the lines of the next moments gather: one write and one wake-up per gathering
            # instead of per line. A put while the writer lingers wakes nobody.
            time.sleep(GATHER_SECONDS)
            while True:
                if isinstance(item, str):
                    lines.append(item)
                elif isinstance(item, threading.Event):
                    waiting.append(item)
                else:
                    stop = True
                try:
                    item = self._queue.get_nowait()
                except Empty:
                    break
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
