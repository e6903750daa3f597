"""Timestamps in ``meta`` read as ``datetime.isoformat`` writes them, with ``Z`` for UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from inbound.database.rows import Rows
from inbound.render import iso


@given(st.datetimes(timezones=st.just(UTC)))
def test_a_utc_moment_reads_as_isoformat_writes_it(moment: datetime) -> None:
    assert iso(moment) == moment.isoformat().replace("+00:00", "Z")


def test_other_offsets_keep_their_offset() -> None:
    moment = datetime(2026, 12, 7, 3, 9, 12, tzinfo=timezone(timedelta(hours=2)))
    assert iso(moment) == "2026-12-07T03:09:12+02:00"


def test_sqlite_text_reads_back_as_utc() -> None:
    """SQLite hands back naive UTC text; text with an offset of its own keeps its meaning."""
    assert Rows.time_out("2026-12-07 03:09:12.123456") == datetime(
        2026, 12, 7, 3, 9, 12, 123456, tzinfo=UTC
    )
    assert Rows.time_out("2026-12-07 03:09:12+02:00") == datetime(2026, 12, 7, 1, 9, 12, tzinfo=UTC)
    assert Rows.time_out("2026-12-07T03:09:12Z").tzinfo is UTC


@given(
    st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    )
)
def test_a_moment_is_stored_as_sqlalchemy_writes_it(moment: datetime) -> None:
    rows = Rows.__new__(Rows)
    rows.sqlite = True
    expected = moment.replace(tzinfo=None).isoformat(" ", "microseconds")
    assert rows.time_in(moment) == expected
    assert rows.time_in(moment) == expected  # the same moment again, from the last one kept
    assert rows.time_in(moment.astimezone(timezone(timedelta(hours=-5)))) == expected
    assert rows.time_in(moment + timedelta(microseconds=1)) != expected
    assert Rows.time_out(expected) == moment
