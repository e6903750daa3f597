"""deploy/compose.yaml as ``docker compose`` reads it: services, order, health, volumes, and
settings that exist."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from compose_spec import PyCompose

from scheduler.config_docs import setting_names
from tests.support.artefacts import DEPLOY, compose, our_compose_services

INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}")


def env_file_entries(path: str) -> dict[str, str]:
    out = {}
    for line in (DEPLOY / path).read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path}: '{line}' is not NAME=value"
            out[key.strip()] = value
    return out


def validate(spec: dict[str, Any]) -> PyCompose:
    """The Compose Specification's own rules (compose-spec, a strict parser of it). YAML merge
    keys are resolved first, as Compose itself does."""
    return PyCompose.from_json(json.dumps(spec))


def test_the_file_follows_the_compose_specification() -> None:
    parsed = validate(compose())
    assert set(parsed.service_names()) == set(compose()["services"])


@pytest.mark.parametrize(
    "broken",
    [
        "services: {web: {image: x, helthcheck: {test: [CMD, 'true']}}}",
        "services: {web: {image: x, depends_on: {db: {condition: service_ready}}}}",
        "services: {web: {image: x, restart: sometimes}}",
    ],
)
def test_the_specification_check_is_strict(broken: str) -> None:
    with pytest.raises(ValueError):
        validate(yaml.safe_load(broken))


def test_the_stack_has_its_services_with_health_checks() -> None:
    services = compose()["services"]
    assert {"web", "worker", "postgres", "openldap", "migrate"} <= set(services)
    for name in ("web", "worker", "postgres", "openldap"):
        check = services[name].get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no health check"
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["openldap"]["build"]["context"] == "openldap"
    assert (DEPLOY / "openldap" / "Dockerfile").exists()


def test_services_start_in_order() -> None:
    services = compose()["services"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web", "worker"):
        assert (
            services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        )
    assert services["worker"]["depends_on"]["openldap"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no"


def test_state_lives_in_named_volumes() -> None:
    spec = compose()
    declared = set(spec["volumes"])
    for name in ("postgres", "openldap"):
        mounted = {v.split(":")[0] for v in spec["services"][name]["volumes"]}
        assert mounted and mounted <= declared, (name, mounted, declared)


def test_settings_come_from_env_files_that_name_real_settings() -> None:
    known = setting_names()
    for name, service in our_compose_services():
        files = [e["path"] if isinstance(e, dict) else e for e in service["env_file"]]
        assert "scim-sync.env.example" in files, name
        environment: dict[str, Any] = service.get("environment", {})
        assert set(environment) <= known, (name, set(environment) - known)
    example = env_file_entries("scim-sync.env.example")
    assert set(example) <= known, set(example) - known
    assert "SCIM_SYNC_PUBLIC_URL" in example


def test_our_containers_run_locked_down() -> None:
    for name, service in our_compose_services():
        assert service["read_only"] is True and "/tmp" in service["tmpfs"], name
        assert "ALL" in service["cap_drop"], name
        assert service["image"] == compose()["services"]["web"]["image"]


def test_only_loopback_ports_are_published() -> None:
    for name, service in compose()["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} to the network"


def test_secrets_have_defaults_only_for_the_workstation() -> None:
    """Every ${VAR} has a default, so one command starts the stack; none is a SCIM_SYNC_ name
    (those belong in the env file, where docs/configuration.md describes them)."""
    text = (DEPLOY / "compose.yaml").read_text()
    for match in INTERPOLATION.finditer(text):
        assert ":-" in match.group(0), f"{match.group(0)} has no default"
        assert not match.group(1).startswith("SCIM_SYNC_"), match.group(0)
