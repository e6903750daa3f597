"""deploy/kubernetes validated offline against the Kubernetes API schemas (kubernetes-validate
ships them), plus the properties the issue asks for."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from scheduler.config_docs import setting_names
from scheduler.settings import describe
from tests.support.artefacts import (
    IMAGE_REPOSITORY,
    KUBERNETES,
    ROOT,
    kubernetes_files,
    kubernetes_objects,
    our_containers,
    pod_spec,
    yaml_documents,
)

# the oldest release the manifests support (native preStop sleep) and the newest schema shipped
VERSIONS = ["1.30.0", kubernetes_validate.utils.latest_version()]


def objects(kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for _p, o in kubernetes_objects() if o["kind"] == kind}


def kustomization() -> dict[str, Any]:
    return yaml_documents(KUBERNETES / "kustomization.yaml")[0]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", kubernetes_files(), ids=lambda p: p.name)
def test_manifest_is_valid_kubernetes(path: Path, version: str) -> None:
    for doc in yaml_documents(path):
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_validator_rejects_a_broken_manifest() -> None:
    doc = yaml_documents(KUBERNETES / "web-deployment.yaml")[0]
    doc["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["paht"] = "/x"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, VERSIONS[-1], strict=True)


def test_kustomization_lists_every_manifest_but_the_secret_template() -> None:
    listed = set(kustomization()["resources"])
    present = {p.name for p in kubernetes_files()}
    assert listed == present - {"secret.template.yaml"}
    assert kustomization()["namespace"] == "scim-sync"


def test_one_release_number_everywhere() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    (image,) = kustomization()["images"]
    assert image["name"] == IMAGE_REPOSITORY and image["newTag"] == version
    for where, container in our_containers():
        assert container["image"] == f"{IMAGE_REPOSITORY}:{version}", where
    (job,) = objects("Job").values()
    assert job["metadata"]["name"].endswith("-" + version.replace(".", "-"))
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    assert compose["services"]["web"]["image"] == f"scim-sync:{version}"


def test_web_scales_out_and_is_probed() -> None:
    web = objects("Deployment")["scim-sync-web"]
    assert web["spec"]["replicas"] >= 2
    hpa = objects("HorizontalPodAutoscaler")["scim-sync-web"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "scim-sync-web"
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    (container,) = web["spec"]["template"]["spec"]["containers"]
    assert container["args"][0] == "web"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert web["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_two_workers() -> None:
    worker = objects("Deployment")["scim-sync-worker"]
    assert worker["spec"]["replicas"] == 2
    (container,) = worker["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["worker"]


def test_migrations_run_once_per_release_in_a_job() -> None:
    (job,) = objects("Job").values()
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["db", "upgrade"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] in ("OnFailure", "Never")
    assert job["spec"]["ttlSecondsAfterFinished"] > 0


def test_every_pod_is_locked_down_with_resources() -> None:
    pods = [(p.name, pod_spec(o)) for p, o in kubernetes_objects() if pod_spec(o)]
    assert len(pods) == 3
    for name, spec in pods:
        assert spec is not None
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["automountServiceAccountToken"] is False, name
        mounts = {v["name"]: v for v in spec["volumes"]}
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            tmp = next(m for m in container["volumeMounts"] if m["mountPath"] == "/tmp")
            assert "emptyDir" in mounts[tmp["name"]], name
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][kind]), (name, kind)
            names = {e["configMapRef"]["name"] for e in container["envFrom"] if "configMapRef" in e}
            secrets = {e["secretRef"]["name"] for e in container["envFrom"] if "secretRef" in e}
            assert names == {"scim-sync"} and secrets == {"scim-sync"}, name


def test_disruption_budgets_cover_web_and_worker() -> None:
    budgets = objects("PodDisruptionBudget")
    components = {
        b["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"]
        for b in budgets.values()
    }
    assert components == {"web", "worker"}


def test_ingress_terminates_tls_and_routes_to_the_service() -> None:
    (ingress,) = objects("Ingress").values()
    hosts = {h for t in ingress["spec"]["tls"] for h in t["hosts"]}
    service = objects("Service")["scim-sync-web"]
    port_names = {p["name"] for p in service["spec"]["ports"]}
    for rule in ingress["spec"]["rules"]:
        assert rule["host"] in hosts
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["name"] == "scim-sync-web" and backend["port"]["name"] in port_names
    published = {p["path"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]}
    assert not published & {"/", "/metrics", "/healthz", "/readyz"}


def test_network_policies_select_our_pods() -> None:
    policies = objects("NetworkPolicy")
    assert policies
    web_ingress = policies["scim-sync-web-ingress"]
    assert web_ingress["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "web"
    egress = policies["scim-sync-egress"]["spec"]["egress"]
    ports = {p["port"] for rule in egress for p in rule["ports"]}
    assert {53, 5432, 443} <= ports


def test_settings_and_secrets_are_split() -> None:
    (config,) = objects("ConfigMap").values()
    secret = yaml_documents(KUBERNETES / "secret.template.yaml")[0]
    secret_keys = set(secret["stringData"])
    assert {"SCIM_SYNC_DATABASE_URL", "SCIM_SYNC_ADMIN_KEY"} <= secret_keys
    secrets = {e["env"] for e in describe() if e["secret"]}
    assert not secrets & set(config["data"]), "a secret setting sits in the ConfigMap"
    assert secrets <= secret_keys, f"give these a slot in the Secret: {secrets - secret_keys}"
    assert set(config["data"]) | secret_keys <= setting_names()
