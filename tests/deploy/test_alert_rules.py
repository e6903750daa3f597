"""The alerting rules in deploy/: valid for promtool, their unit tests pass, every metric they
watch is one scim-sync exports, and the Kubernetes PrometheusRule carries the same rules."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from scheduler.alerts import RULES as WEBHOOK_RULES
from scheduler.composition import Runtime
from tests.support.artefacts import DEPLOY, KUBERNETES, ROOT, kubectl

RULES = DEPLOY / "prometheus" / "scim-sync-rules.yaml"
RULE_TESTS = DEPLOY / "prometheus" / "scim-sync-rules.test.yaml"
COMPONENT = KUBERNETES / "monitoring"
METRIC = re.compile(r"\bscim_sync_[a-z0-9_]+\b")


def promtool() -> str:
    exe = shutil.which("promtool")
    if exe is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("promtool is required in CI (Debian package prometheus)")
        pytest.skip("promtool missing (Debian package prometheus)")
    return exe


def rule_groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return groups


def test_promtool_checks_the_rules() -> None:
    result = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 9 rules found" in result.stdout


def test_promtool_unit_tests_of_every_alert_pass() -> None:
    result = subprocess.run(
        [promtool(), "test", "rules", RULE_TESTS.name],
        cwd=RULE_TESTS.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    tested = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text(encoding="utf-8")))
    assert tested == {rule["alert"] for group in rule_groups() for rule in group["rules"]}


def test_every_watched_metric_is_exported(
    runtime: Runtime,
    client: TestClient[Any],
) -> None:
    assert runtime.services.console is not None
    runtime.services.console.entra.record_job({"state": "active"})
    exported: set[str] = set()
    for family in text_string_to_metric_families(client.get("/metrics").text):
        exported.add(family.name)
        if family.type == "counter":
            exported.add(f"{family.name}_total")
    watched = {
        name
        for group in rule_groups()
        for rule in group["rules"]
        for name in METRIC.findall(rule["expr"])
    }
    assert watched <= exported, watched - exported


def test_the_prometheus_rule_carries_the_same_rules(tmp_path: Path) -> None:
    (tmp_path / "scim-sync").symlink_to(ROOT)
    overlay = tmp_path / "with-alerts"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "resources: [../scim-sync/deploy/kubernetes]\n"
        "components: [../scim-sync/deploy/kubernetes/monitoring]\n"
    )
    result = subprocess.run(
        [kubectl(), "kustomize", str(overlay)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    rendered = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    (rule,) = [doc for doc in rendered if doc["kind"] == "PrometheusRule"]
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["namespace"] == "scim-sync"
    assert rule["spec"]["groups"] == rule_groups()
    assert len(rendered) > 1  # the base came along


def test_the_alert_webhook_announces_the_same_alerts() -> None:
    rules = {rule["alert"]: rule for group in rule_groups() for rule in group["rules"]}
    assert set(WEBHOOK_RULES) == set(rules)
    for name, rule in WEBHOOK_RULES.items():
        summary = re.sub(
            r"\{\{ \$labels\.(\w+) \}\}", r"{\1}", rules[name]["annotations"]["summary"]
        )
        assert rule.summary == summary.replace(" in the last hour", ""), name
        assert rule.runbook == rules[name]["annotations"]["runbook"], name
        assert rule.duration.total_seconds() == _seconds(rules[name].get("for", "0m")), name


def _seconds(duration: str) -> float:
    return float(duration[:-1]) * {"s": 1, "m": 60, "h": 3600}[duration[-1]]
