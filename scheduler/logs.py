"""Logs on stderr: one JSON object per line for machines, a console line for a person at a
terminal. Either way an event is its text plus its key/values.

Secrets never reach a log record: the code never passes them, and values of keys that look
like secrets are masked here as a second line of defence.

A request's log line is part of the request's cost (the service logs one per request), so
the path from a log call to the queue is kept short: the caller's frame, thread and process
are not looked up (no format prints them), a line is encoded once by msgspec, and the write
to stderr happens in a thread of its own (:mod:`scheduler.log_writer`).
"""

from __future__ import annotations

import functools
import logging
import sys
import time
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from itertools import islice
from typing import Any, TextIO

import msgspec

from scheduler.log_writer import BackgroundWriter

_OWN_ATTRIBUTES = len(logging.LogRecord("", 0, "", 0, "", (), None).__dict__)
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's terminal colouring of the same event
    "taskName",  # Python 3.12 adds the asyncio task to every record
}
_SECRET_KEYS = ("token", "password", "secret", "authorization", "key")
_PLAIN = (str, int, float, bool, type(None))


class LogFormat(StrEnum):
    """``SCIM_SYNC_LOG_FORMAT``: ``auto`` is console at a terminal, JSON otherwise."""

    AUTO = "auto"
    JSON = "json"
    CONSOLE = "console"


_encode = msgspec.json.Encoder(enc_hook=str).encode
"""msgspec encodes a line several times faster than the standard library; anything it does
not know is written as its ``str``."""


@functools.lru_cache(maxsize=4096)
def _secret_name(key: str) -> bool:
    """Cached: the names passed to log calls are a small fixed set, written in the code."""
    return any(s in key.lower() for s in _SECRET_KEYS) and not key.endswith(
        ("_id", "_at", "_seconds")
    )


def _masked(key: str, value: Any, depth: int = 0) -> Any:
    """The value with every secret-looking name masked, at any depth of dicts and lists
    (a body or a settings dump handed to a log call nests them)."""
    if _secret_name(key):
        return "***"
    if depth > 8 or type(value) in _PLAIN:
        return value
    if isinstance(value, dict):
        return {k: _masked(str(k), v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked("", v, depth + 1) for v in value]
    return value


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    """The key/values a log call passed (``extra=``), secrets masked.

    A record's own attributes come first in its ``__dict__`` and the ``extra=`` ones after
    them, so the walk starts past the former; the name check still drops any that a
    formatter added later (``message``)."""
    return {
        key: _masked(key, value)
        for key, value in islice(record.__dict__.items(), _OWN_ATTRIBUTES, None)
        if key not in _STANDARD and key[0] != "_"
    }


class _UtcStamps:
    """ISO 8601 UTC to the millisecond; the date and time part is made once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._prefix}.{int((created - second) * 1000):03d}+00:00"


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self.stamp = _UtcStamps()

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self.stamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
            **_extras(record),
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return _encode(out).decode()


class ConsoleFormatter(logging.Formatter):
    """``21:40:12.123 INFO  request handled  route=/scim/v2/Users status=201 …`` in local
    time, so a person at a terminal reads the first-start banner and the events at a glance."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        pairs = " ".join(f"{k}={_console_value(v)}" for k, v in _extras(record).items())
        line = f"{moment} {record.levelname:<7} {record.getMessage()}"
        if pairs:
            line += f"  {pairs}"
        if record.levelno >= logging.WARNING:
            line += f"  [{record.name}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _console_value(value: Any) -> str:
    text = value if isinstance(value, str) else _encode(value).decode()
    return text if text and " " not in text and '"' not in text else _encode(text).decode()


def event_writer(name: str) -> Callable[[int, str, dict[str, Any]], None]:
    """A shorter path for one frequent event of logger ``name`` (the request line): when the
    log is JSON through the one background writer, the line is encoded here and queued, the
    same line the formatter would make, without a ``LogRecord``, the handler chain and the
    walk over the record's attributes (half the cost of a logged request's line). Otherwise
    (console format, another handler such as a test's) the event goes through ``logging``.
    Only for events whose key/values hold no secrets: nothing is masked on this path."""
    logger = logging.getLogger(name)
    root = logging.getLogger()

    def write(level: int, event: str, fields: dict[str, Any]) -> None:
        if not logger.isEnabledFor(level):
            return
        handlers = root.handlers
        writer = handlers[0] if len(handlers) == 1 else None
        if (
            isinstance(writer, BackgroundWriter)
            and isinstance(writer.formatter, JsonFormatter)
            and level >= writer.level
            and not logger.handlers
        ):
            line = {
                "ts": writer.formatter.stamp(time.time()),
                "level": logging.getLevelName(level).lower(),
                "logger": name,
                "event": event,
                **fields,
            }
            writer.put_line(_encode(line).decode())
            return
        logger.log(level, event, extra=fields)

    return write


def formatter_for(log_format: LogFormat, stream: TextIO) -> logging.Formatter:
    if log_format == LogFormat.CONSOLE or (log_format == LogFormat.AUTO and stream.isatty()):
        return ConsoleFormatter()
    return JsonFormatter()


def configure(
    level: str = "INFO", log_format: LogFormat = LogFormat.AUTO, stream: TextIO | None = None
) -> None:
    """Route every log record to ``stream`` (stderr) through one background writer."""
    # The logging HOWTO's own advice for speed: no format here prints the caller's file and
    # line, thread or process, so the record need not look them up on every call.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    out = sys.stderr if stream is None else stream
    handler = BackgroundWriter(out)
    handler.setFormatter(formatter_for(log_format, out))
    root = logging.getLogger()
    previous, root.handlers[:] = list(root.handlers), [handler]
    for old in previous:
        if isinstance(old, BackgroundWriter):
            old.close()  # writes what it still holds, then its thread ends
    root.setLevel(level.upper())
    for noisy in ("apscheduler", "uvicorn.access", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
