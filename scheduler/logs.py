"""Structured JSON logs on stderr: one object per line, event text plus its key/values.

Secrets never reach a log record: the code never passes them, and values of keys that look
like secrets are masked here as a second line of defence.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

import msgspec

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's terminal colouring of the same event
}
_SECRET_KEYS = ("token", "password", "secret", "authorization", "key")


_encode = msgspec.json.Encoder(enc_hook=str).encode
"""A log line is written on every request: msgspec encodes it several times faster than the
standard library, and anything it does not know is written as its ``str``."""


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key in _STANDARD or key.startswith("_"):
                continue
            masked = any(s in key.lower() for s in _SECRET_KEYS) and not key.endswith(
                ("_id", "_at", "_seconds")
            )
            out[key] = "***" if masked else value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return _encode(out).decode()


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("apscheduler", "uvicorn.access", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
