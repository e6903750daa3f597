"""The AD baseline script runs end to end at toy sizes against the Samba DC (figures unchecked)."""

from __future__ import annotations

import pytest

from tests.bench import bench_ldap
from tests.bench.bench_ad_raw import main
from tests.support.samba_dc import find_samba

pytestmark = pytest.mark.slow


@pytest.mark.skipif(find_samba() is None, reason="Samba AD DC is not installed")
def test_ad_baseline_script_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--smoke"]) == 0
    table = capsys.readouterr().out
    assert "create without password" in table and "modify (title)" in table


@pytest.mark.skipif(find_samba() is None, reason="Samba AD DC is not installed")
def test_ad_mode_of_bench_ldap_runs(capsys: pytest.CaptureFixture[str]) -> None:
    bench_ldap.main(
        ["--ad", "--users", "6", "--slices", "2", "--modify-rounds", "2", "--full-users", "4"]
    )
    table = capsys.readouterr().out
    assert "reconciler run_once" in table and "full reconcile of 4 AD users" in table
