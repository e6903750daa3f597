"""What ``kubectl apply -k`` would send: the kustomization rendered by kubectl's own kustomize
(offline, no cluster), then validated object by object — and the overlay docs/deploy.md tells
operators to write, rendered the same way."""

from __future__ import annotations

import re
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from tests.support.artefacts import DOCS, KUBERNETES, ROOT, kubectl, kubernetes_objects


def render(directory: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(directory)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def test_the_kustomization_renders_valid_objects_in_one_namespace() -> None:
    rendered = render(KUBERNETES)
    source = [obj for path, obj in kubernetes_objects() if path.name != "secret.template.yaml"]
    assert len(rendered) == len(source)
    latest = kubernetes_validate.utils.latest_version()
    for obj in rendered:
        kubernetes_validate.validate(obj, latest, strict=True)
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "scim-sync", obj["metadata"]["name"]
    assert not by_kind(rendered, "Secret"), "the template must never be applied as is"


def test_the_documented_overlay_renders(tmp_path: Path) -> None:
    text = (DOCS / "deploy.md").read_text(encoding="utf-8")
    block = re.search(
        r"^( *)```yaml\n\1# my-scim-sync/kustomization\.yaml\n(.*?)^\1```", text, re.S | re.M
    )
    assert block, "docs/deploy.md lost its overlay example"
    (tmp_path / "scim-sync").symlink_to(ROOT)
    overlay = tmp_path / "my-scim-sync"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(textwrap.dedent(block.group(2)))
    rendered = render(overlay)
    images = {
        c["image"]
        for o in rendered
        if o["kind"] in ("Deployment", "Job")
        for c in o["spec"]["template"]["spec"]["containers"]
    }
    assert images == {"registry.mycorp.net/identity/scim-sync:0.2.0"}
    (ingress,) = by_kind(rendered, "Ingress")
    assert ingress["spec"]["rules"][0]["host"] == "scim.mycorp.net"
    assert ingress["spec"]["tls"][0]["hosts"] == ["scim.mycorp.net"]
    (config,) = by_kind(rendered, "ConfigMap")
    assert config["data"]["SCIM_SYNC_PUBLIC_URL"] == "https://scim.mycorp.net"
