"""Moments written as text without ``datetime.isoformat``.

Every SCIM read renders two timestamps and every write stores three or more; ``isoformat``
goes through C's printf machinery and ``replace(tzinfo=…)`` through keyword parsing, and
together they cost a GET by ``userName`` more than its SQL statement. These put the same text
together from precomputed two-digit parts.
"""

from __future__ import annotations

from datetime import UTC, datetime

_TWO_DIGITS = [f"{n:02d}" for n in range(100)]


def utc_text(moment: datetime, separator: str, *, always_fraction: bool) -> str | None:
    """``2026-12-07<separator>03:09:12.123456`` for a UTC moment, as ``isoformat`` writes it
    (which leaves out a zero fraction unless asked for microseconds); None for a moment this
    does not cover (another offset, a year before 1000), which the caller formats itself."""
    if moment.tzinfo is not UTC or moment.year < 1000:
        return None
    two = _TWO_DIGITS
    micro = moment.microsecond
    fraction = f".{micro:06d}" if micro or always_fraction else ""
    return (
        f"{moment.year}-{two[moment.month]}-{two[moment.day]}{separator}"
        f"{two[moment.hour]}:{two[moment.minute]}:{two[moment.second]}{fraction}"
    )
