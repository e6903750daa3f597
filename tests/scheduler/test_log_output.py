"""Where log lines go and how they read: JSON for machines, a console line at a terminal, every
line written before the process ends, secrets masked either way."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler import logs
from scheduler.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    flags = (logging._srcfile, logging.logThreads, logging.logProcesses)
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:], root.level = handlers, level
    logging._srcfile, logging.logThreads, logging.logProcesses = flags


def logged(stream: io.TextIOBase, log_format: logs.LogFormat = logs.LogFormat.AUTO) -> str:
    """Configure logging onto ``stream``, log one event with key/values, return what came."""
    logs.configure("INFO", log_format, stream)  # type: ignore[arg-type]
    logging.getLogger("scim.test").info(
        "user applied",
        extra={"target": "ldap", "user_id": "alice smith", "token": "sst_plain", "generation": 3},
    )
    for handler in logging.getLogger().handlers:
        handler.flush()
    stream.seek(0)
    return stream.read()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_console_lines() -> None:
    text = logged(Terminal())
    assert not text.startswith("{")
    assert "INFO    user applied  target=ldap" in text
    assert 'user_id="alice smith"' in text and "generation=3" in text
    assert "token=***" in text and "sst_plain" not in text


def test_anything_else_gets_one_json_object_per_line() -> None:
    line = json.loads(logged(io.StringIO()))
    assert line["event"] == "user applied" and line["level"] == "info"
    assert line["logger"] == "scim.test" and line["user_id"] == "alice smith"
    assert line["token"] == "***"
    assert line["ts"].endswith("+00:00") and len(line["ts"]) == len("2026-12-06T21:40:12.123+00:00")


def test_the_format_can_be_forced_either_way() -> None:
    assert json.loads(logged(Terminal(), logs.LogFormat.JSON))["target"] == "ldap"
    assert logged(io.StringIO(), logs.LogFormat.CONSOLE).split()[1] == "INFO"


def test_the_log_format_setting_is_checked() -> None:
    assert load_settings(env={"SCIM_SYNC_LOG_FORMAT": "console"}).log_format == "console"
    with pytest.raises(SettingsError, match="SCIM_SYNC_LOG_FORMAT must be auto, json or console"):
        load_settings(env={"SCIM_SYNC_LOG_FORMAT": "xml"})


def test_an_exception_is_written_under_its_line() -> None:
    stream = Terminal()
    logs.configure("INFO", logs.LogFormat.AUTO, stream)
    try:
        raise ValueError("broken")
    except ValueError:
        logging.getLogger("scim.test").warning("run failed", exc_info=True)
    logging.getLogger().handlers[0].flush()
    text = stream.getvalue()
    assert "WARNING run failed  [scim.test]\nTraceback" in text and "ValueError: broken" in text


EXITING = """
import logging, sys
from scheduler import logs
logs.configure("INFO", logs.LogFormat.JSON)
log = logging.getLogger("exit.test")
for n in range({lines}):
    log.info("line", extra={{"n": n}})
{end}
"""


@pytest.mark.slow
@pytest.mark.parametrize("end", ["pass", "sys.exit(3)", "raise SystemExit(0)"])
def test_no_line_is_lost_when_the_process_ends(end: str) -> None:
    """The writer thread may be behind when the program ends: exit writes what it holds."""
    lines = 20000
    done = subprocess.run(
        [sys.executable, "-c", EXITING.format(lines=lines, end=end)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    numbers = [json.loads(line)["n"] for line in done.stderr.splitlines()]
    assert numbers == list(range(lines))


FIELDS = {"request_id": "r1", "method": "GET", "route": "/scim/v2/Users", "status": 200}


def test_the_short_path_writes_the_line_the_formatter_writes() -> None:
    stream = io.StringIO()
    logs.configure("INFO", logs.LogFormat.JSON, stream)
    logs.event_writer("scim.test")(logging.INFO, "request handled", dict(FIELDS))
    logging.getLogger("scim.test").info("request handled", extra=dict(FIELDS))
    logs.event_writer("scim.test")(logging.DEBUG, "request handled", dict(FIELDS))  # below INFO
    logging.getLogger().handlers[0].flush()
    short, standard = (json.loads(line) for line in stream.getvalue().splitlines())
    assert short.pop("ts")[:10] == standard.pop("ts")[:10]
    assert list(short.items()) == list(standard.items())


def test_the_short_path_goes_through_logging_when_another_handler_listens(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stream = io.StringIO()
    logs.configure("INFO", logs.LogFormat.JSON, stream)
    logging.getLogger().addHandler(caplog.handler)  # a second handler: a test's, say
    logs.event_writer("scim.test")(logging.INFO, "request handled", dict(FIELDS))
    assert [r.getMessage() for r in caplog.records] == ["request handled"]
    assert caplog.records[0].route == "/scim/v2/Users"  # type: ignore[attr-defined]
