"""The benchmark script runs end to end at toy sizes (its figures are not checked here)."""

from __future__ import annotations

import shutil

import pytest

from tests.bench.bench_scim import main

pytestmark = pytest.mark.slow


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_benchmark_script_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--smoke", "--db", "sqlite"]) == 0
    table = capsys.readouterr().out
    assert "ceiling" in table and "scim2-server" in table
    assert "sqlite   GET filter" in table and "add 1 member" in table
