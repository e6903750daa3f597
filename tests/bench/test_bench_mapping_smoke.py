"""The mapping benchmark runs end to end at toy sizes (its figures are not checked here)."""

from __future__ import annotations

import pytest

from tests.bench.bench_mapping import main


def test_mapping_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--smoke"]) == 0
    table = capsys.readouterr().out
    assert "ldap values+dn, 6 templates + placement" in table and "mapping cost per user" in table
