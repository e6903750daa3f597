"""The planner benchmark runs end to end at a toy size (its figures are not checked here)."""

from __future__ import annotations

import pytest

from tests.bench.bench_planner import main


def test_planner_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--users", "20", "--rounds", "1"])
    table = capsys.readouterr().out
    assert "LDAP planner" in table and "Identity Manager store planner" in table
    assert table.count("plan, unchanged") == 2
