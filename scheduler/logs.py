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


def _secret_name(key: str) -> bool:
    return any(s in key.lower() for s in _SECRET_KEYS) and not key.endswith(
        ("_id", "_at", "_seconds")
    )


def _masked(key: str, value: Any, depth: int = 0) -> Any:
    """The value with every secret-looking name masked, at any depth of dicts and lists
    (a body or a settings dump handed to a log call nests them)."""
    if _secret_name(key):
        return "***"
    if depth > 8:
        return value
    if isinstance(value, dict):
        return {k: _masked(str(k), v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked("", v, depth + 1) for v in value]
    return value


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
            out[key] = _masked(key, value)
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
