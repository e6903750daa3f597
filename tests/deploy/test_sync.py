"""Deploy files and docs stay in step with the code: every setting they name exists in the
settings model, every command they run parses with the real CLI, every path they probe or
publish is served by the real app."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from inbound.web.app import create_app, served_paths
from scheduler.cli import main
from scheduler.composition import compose as compose_runtime
from scheduler.config_docs import setting_names
from scheduler.settings import Settings, SettingsError, load_settings
from tests.support import artefacts
from tests.support.artefacts import DOCS, ROOT, Use

# Named in the docs or deploy files while another branch builds them; each entry must be
# removed once it exists (test_pending_entries_are_still_missing says when).
PENDING_ROUTES: dict[str, str] = {}
PENDING_COMMANDS: dict[tuple[str, ...], str] = {}
PENDING_DOCS: dict[str, str] = {}
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.fixture(scope="module")
def app_paths(tmp_path_factory: pytest.TempPathFactory) -> Iterator[set[str]]:
    db = tmp_path_factory.mktemp("sync") / "scim-sync.db"
    rt = compose_runtime(Settings(database_url=f"sqlite:///{db}"))
    try:
        yield served_paths(create_app(rt.services))
    finally:
        rt.dispose()


def _served(prefix: str, paths: set[str]) -> bool:
    prefix = prefix.rstrip("/") or "/"
    return any(p == prefix or p.startswith(prefix + "/") for p in paths)


def _docs() -> list[Path]:
    return [*sorted(DOCS.glob("*.md")), ROOT / "README.md"]


def test_every_setting_named_in_deploy_and_docs_exists() -> None:
    known = setting_names()
    uses = artefacts.setting_names_used(artefacts.deploy_text_files() + sorted(DOCS.glob("*.md")))
    assert len(uses) > 20, "the scan found almost nothing; is the pattern broken?"
    unknown = [u for u in uses if u.value not in known]
    assert not unknown, f"not in the settings model: {unknown}"


def test_the_scan_catches_a_made_up_setting(tmp_path: Path) -> None:
    doc = tmp_path / "x.md"
    doc.write_text("set SCIM_SYNC_NO_SUCH_THING=1 and SCIM_SYNC_LDAP_URL\n")
    names = {u.value for u in artefacts.setting_names_used([doc])} - setting_names()
    assert names == {"SCIM_SYNC_NO_SUCH_THING"}


def test_every_deploy_command_parses_with_the_cli() -> None:
    uses = artefacts.command_lines()
    where = {u.where.split(":")[0].split(" ")[0] for u in uses}
    assert {"Dockerfile", "compose"} <= where and any(w.endswith(".yaml") for w in where)
    for use in uses:
        try:
            artefacts.resolve(main, use.value)
        except click.UsageError as exc:
            pytest.fail(f"{use.where}: scim-sync {' '.join(use.value)} → {exc}")


def test_every_documented_command_parses_with_the_cli() -> None:
    uses = artefacts.doc_command_lines(_docs())
    assert len(uses) > 10
    for use in uses:
        if tuple(use.value[:2]) in PENDING_COMMANDS:
            continue
        try:
            artefacts.resolve(main, use.value)
        except click.UsageError as exc:
            pytest.fail(f"{use.where}: scim-sync {' '.join(use.value)} → {exc}")


@pytest.mark.parametrize(
    "argv",
    [["no-such-command"], ["token"], ["token", "issue", "--no-such-option"], ["identities", "get"]],
)
def test_the_command_check_refuses_what_the_cli_refuses(argv: list[str]) -> None:
    with pytest.raises(click.UsageError):
        artefacts.resolve(main, argv)


def test_every_probe_path_is_served(app_paths: set[str]) -> None:
    uses = artefacts.probe_paths()
    assert {u.value for u in uses} >= {"/healthz", "/readyz"}
    missing = [u for u in uses if u.value not in app_paths]
    assert not missing, f"probed but not served: {missing}"


def test_every_published_path_is_served(app_paths: set[str]) -> None:
    uses = artefacts.ingress_paths()
    uses += [
        Use(f"{path.name} annotation", value)
        for path, obj in artefacts.kubernetes_objects()
        if artefacts.pod_spec(obj) is not None
        for key, value in obj["spec"]["template"]["metadata"].get("annotations", {}).items()
        if key == "prometheus.io/path"
    ]
    assert uses
    missing = [u for u in uses if not _served(u.value, app_paths) and u.value not in PENDING_ROUTES]
    assert not missing, f"published but not served: {missing}"


def _slug(heading: str) -> str:
    """The anchor a Markdown renderer gives a heading (GitHub's rule)."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_links_between_docs_resolve() -> None:
    checked = 0
    for doc in _docs():
        for target in LINK.findall(doc.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            file_part, _, anchor = target.partition("#")
            path = (doc.parent / file_part).resolve() if file_part else doc
            if str(path.relative_to(ROOT)) in PENDING_DOCS:
                continue
            assert path.exists(), f"{doc.name}: link to missing {target}"
            if anchor and path.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", path.read_text(encoding="utf-8"), re.M)
                assert anchor in {_slug(h) for h in headings}, f"{doc.name}: no #{anchor}"
            checked += 1
    assert checked > 10


def test_pending_entries_are_still_missing(app_paths: set[str]) -> None:
    """Fails once a pending feature lands, so its entry (and any hedge in the docs) goes."""
    landed = [path for path in PENDING_ROUTES if _served(path, app_paths)]
    landed += [doc for doc in PENDING_DOCS if (ROOT / doc).exists()]
    for argv in PENDING_COMMANDS:
        try:
            artefacts.resolve(main, list(argv))
            landed.append(" ".join(argv))
        except click.UsageError:
            pass
    assert not landed, f"now exist; remove from PENDING_* in {__file__}: {landed}"


def test_the_shipped_values_are_accepted_by_the_settings_model() -> None:
    """The env example loads; the ConfigMap with the Secret template loads once every
    placeholder of the template is replaced, and is refused, naming each one, before."""
    example = {
        key: value
        for key, _sep, value in (
            line.partition("=")
            for line in (artefacts.DEPLOY / "scim-sync.env.example").read_text().splitlines()
            if line.strip() and not line.startswith("#")
        )
    }
    compose_env = artefacts.compose()["services"]["web"]["environment"]
    load_settings(env={**example, **{k: str(v) for k, v in compose_env.items()}})
    cluster = {}
    for _path, obj in artefacts.kubernetes_objects():
        if obj["kind"] == "ConfigMap":
            cluster.update(obj["data"])
    secret = artefacts.yaml_documents(artefacts.KUBERNETES / "secret.template.yaml")[0]
    template = secret["stringData"]
    assert all("CHANGE-ME" in value for value in template.values())
    with pytest.raises(SettingsError) as refused:
        load_settings(env={**cluster, **template})
    for name in template:
        assert f"{name}: replace the placeholder 'CHANGE-ME'" in str(refused.value)
    real = {
        "SCIM_SYNC_ADMIN_KEY": "ssa_" + secrets.token_hex(32),
        "SCIM_SYNC_TOKEN_WEBHOOK_SECRET": secrets.token_hex(32),
    }
    filled = {
        name: real.get(name) or value.replace("CHANGE-ME", secrets.token_urlsafe(16))
        for name, value in template.items()
    }
    settings = load_settings(env={**cluster, **filled})
    assert settings.public_url.startswith("https://")


def test_documented_commands_are_read_as_a_shell_would(tmp_path: Path) -> None:
    doc = tmp_path / "x.md"
    doc.write_text(
        "```sh\n"
        "scim-sync reconcile --full \\\n  --dry-run --json   # preview\n"
        "scim-sync status --json 2>/dev/null | jq .targets\n"
        "$ scim-sync serve --port 8000 &\n"
        "```\n"
        "```\nscim-sync is listening on http://127.0.0.1:8000\n```\n"
    )
    assert [u.value for u in artefacts.doc_command_lines([doc])] == [
        ["reconcile", "--full", "--dry-run", "--json"],
        ["status", "--json"],
        ["serve", "--port", "8000"],
    ]
